"""The API's blue/green deployment, per environment, in the synthesized stateless stack: the
strategy and bake from environments.toml, both target groups, the production and test routes,
the hook that runs the deployed checks, and the roles ECS uses for them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from config.model import DeliveryConfig, EnvironmentConfig, checks_sign_in
from infra.auth.clients import CHECKS_ACTIONS
from infra.services.deployment_hook.runtime.deployed_checks.hook import (
    TEST_HEADER,
    TEST_HEADER_VALUE,
)
from tests.support.assembly import (
    Assembly,
    part,
    properties,
    ref_target,
    resources,
    stack_output,
)


@pytest.fixture(scope="module")
def template(assembly: Assembly, config: DeliveryConfig, env: EnvironmentConfig) -> dict[str, Any]:
    return part(assembly.template(f"{config.project.name}-{env.name}-stateless"), "Services")


def _api(template: dict[str, Any]) -> dict[str, Any]:
    (service,) = [s for s in properties(template, "AWS::ECS::Service") if s.get("LoadBalancers")]
    return service


def _listener_id(template: dict[str, Any], port: int) -> str:
    (listener_id,) = [
        logical_id
        for logical_id, listener in resources(
            template, "AWS::ElasticLoadBalancingV2::Listener"
        ).items()
        if listener["Properties"]["Port"] == port
    ]
    return listener_id


def _statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in properties(template, "AWS::IAM::Policy")
        if {"Ref": role_id} in policy["Roles"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def _trusts_only(role: dict[str, Any], service: str) -> bool:
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    return bool(statement["Principal"] == {"Service": service} and statement["Effect"] == "Allow")


def test_the_api_deploys_with_the_configured_strategy_and_bake(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    deployment = _api(template)["DeploymentConfiguration"]
    shift = env.traffic_shift
    assert deployment["Strategy"] == shift.strategy.upper()
    assert deployment["BakeTimeInMinutes"] == shift.bake_minutes
    # Green tasks that never start fail the deployment fast (ECS supports it for blue/green).
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert (deployment["MinimumHealthyPercent"], deployment["MaximumPercent"]) == (100, 200)
    if shift.strategy == "canary":
        assert deployment["CanaryConfiguration"] == {
            "CanaryPercent": shift.step_percent,
            "CanaryBakeTimeInMinutes": shift.step_minutes,
        }
    else:
        assert "CanaryConfiguration" not in deployment
        assert "LinearConfiguration" not in deployment


def test_prod_shifts_a_canary_first_and_dev_bakes_shorter_than_prod(
    config: DeliveryConfig,
) -> None:
    shifts = {env.name: env.traffic_shift for env in config.environments}
    assert shifts["prod"].strategy == "canary"
    assert shifts["dev"].bake_minutes < shifts["staging"].bake_minutes < shifts["prod"].bake_minutes


def test_green_is_the_other_target_group_and_ecs_moves_both_routes(
    template: dict[str, Any],
) -> None:
    (load_balancer,) = _api(template)["LoadBalancers"]
    advanced = load_balancer["AdvancedConfiguration"]
    blue, green = load_balancer["TargetGroupArn"]["Ref"], advanced["AlternateTargetGroupArn"]["Ref"]
    assert {blue, green} == set(resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup"))
    production = ref_target(template, advanced["ProductionListenerRule"])["Properties"]
    test = ref_target(template, advanced["TestListenerRule"])["Properties"]
    assert production["ListenerArn"] == {"Ref": _listener_id(template, 80)}
    assert test["ListenerArn"] == {"Ref": _listener_id(template, 8080)}
    # Both groups on each rule from the start, blue with all the traffic: ECS registers green's
    # tasks only in a group the balancer routes to, then moves the weights.
    for rule in (production, test):
        (action,) = rule["Actions"]
        weights = {
            group["TargetGroupArn"]["Ref"]: group["Weight"]
            for group in action["ForwardConfig"]["TargetGroups"]
        }
        assert weights == {blue: 100, green: 0}
    role = ref_target(template, advanced["RoleArn"])
    assert _trusts_only(role, "ecs.amazonaws.com")
    assert [json.dumps(arn) for arn in role["Properties"]["ManagedPolicyArns"]] == [
        json.dumps(
            {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers",
                    ],
                ]
            }
        )
    ]


def test_the_test_route_needs_the_header_and_admits_only_the_hook(
    template: dict[str, Any],
) -> None:
    advanced = _api(template)["LoadBalancers"][0]["AdvancedConfiguration"]
    test = ref_target(template, advanced["TestListenerRule"])["Properties"]
    assert {
        "Field": "http-header",
        "HttpHeaderConfig": {"HttpHeaderName": TEST_HEADER, "Values": [TEST_HEADER_VALUE]},
    } in test["Conditions"]
    (alb,) = properties(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    (alb_group,) = alb["SecurityGroups"]
    into_test_port = [
        rule
        for rule in properties(template, "AWS::EC2::SecurityGroupIngress")
        if rule["GroupId"] == alb_group and rule["FromPort"] == 8080
    ]
    (function,) = properties(template, "AWS::Lambda::Function")
    (hook_group,) = function["VpcConfig"]["SecurityGroupIds"]
    assert [(r["ToPort"], r["SourceSecurityGroupId"]) for r in into_test_port] == [
        (8080, hook_group)
    ]
    inline = template["Resources"][alb_group["Fn::GetAtt"][0]]["Properties"]
    assert all(rule.get("FromPort") != 8080 for rule in inline.get("SecurityGroupIngress", []))


def test_the_hook_runs_after_test_traffic_shifts_with_an_invoke_only_role(
    template: dict[str, Any],
) -> None:
    (hook,) = _api(template)["DeploymentConfiguration"]["LifecycleHooks"]
    assert hook["LifecycleStages"] == ["POST_TEST_TRAFFIC_SHIFT"]
    (function_id,) = resources(template, "AWS::Lambda::Function")
    assert hook["HookTargetArn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    role_id = hook["RoleArn"]["Fn::GetAtt"][0]
    assert _trusts_only(template["Resources"][role_id], "ecs.amazonaws.com")
    (statement,) = _statements(template, role_id)
    assert statement["Action"] == "lambda:InvokeFunction"
    assert {"Fn::GetAtt": [function_id, "Arn"]} in statement["Resource"]


def test_the_hook_function_reaches_the_test_listener_from_the_private_subnets(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    (function,) = properties(template, "AWS::Lambda::Function")
    assert function["Handler"] == "deployed_checks.lambda_function.handler"
    # The environment's own markers: prod's hook runs smoke only and writes nothing.
    assert function["Environment"]["Variables"]["CHECKS"] == ",".join(env.checks)
    url = function["Environment"]["Variables"]["TEST_URL"]
    (alb_id,) = resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert url == {"Fn::Join": ["", ["http://", {"Fn::GetAtt": [alb_id, "DNSName"]}, ":8080"]]}
    assert all("private" in json.dumps(s).lower() for s in function["VpcConfig"]["SubnetIds"])
    group = ref_target(template, function["VpcConfig"]["SecurityGroupIds"][0])["Properties"]
    (egress,) = [
        rule
        for rule in properties(template, "AWS::EC2::SecurityGroupEgress")
        if rule["GroupId"] == function["VpcConfig"]["SecurityGroupIds"][0]
    ]
    assert (egress["FromPort"], egress["ToPort"]) == (8080, 8080)
    inline = [
        (rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"), rule.get("CidrIp"))
        for rule in group.get("SecurityGroupEgress", [])
    ]
    # Where the contract checks sign a user in: HTTPS to Cognito through NAT, nothing else
    # (no cognito-idp endpoint serves a pool with a domain). Elsewhere the test listener only.
    if checks_sign_in(env):
        assert inline == [("tcp", 443, 443, "0.0.0.0/0")]
    else:
        assert all(cidr != "0.0.0.0/0" for *_, cidr in inline), inline


def test_the_hook_role_manages_only_network_interfaces_its_logs_and_the_check_user(
    template: dict[str, Any], assembly: Assembly, config: DeliveryConfig, env: EnvironmentConfig
) -> None:
    (function,) = properties(template, "AWS::Lambda::Function")
    role_id = function["Role"]["Fn::GetAtt"][0]
    granted = {}
    for statement in _statements(template, role_id):
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            granted[action] = statement["Resource"]
    # The check user's four calls, on the environment's pool only, where checks sign in.
    cognito = {action: granted.pop(action) for action in CHECKS_ACTIONS if action in granted}
    if checks_sign_in(env):
        assert set(cognito) == set(CHECKS_ACTIONS)
        stateful = assembly.template(f"{config.project.name}-{env.name}-stateful")
        (pool_id,) = resources(stateful, "AWS::Cognito::UserPool")
        for resource in cognito.values():
            assert stack_output(assembly, resource) == {"Fn::GetAtt": [pool_id, "Arn"]}
    else:
        assert cognito == {}
    assert not [action for action in granted if action.startswith("cognito-idp:")], granted
    assert set(granted) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
    }
    # Only the Describe actions, which have no resource form, on every resource.
    assert {action for action, resource in granted.items() if resource == "*"} == {
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
    }
    assert "network-interface/*" in json.dumps(granted["ec2:DeleteNetworkInterface"])


def test_the_hook_asset_is_the_checks_package_and_nothing_else(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    template = assembly.template(f"{config.project.name}-dev-stateless")
    (function,) = properties(part(template, "Services"), "AWS::Lambda::Function")
    key = function["Code"]["S3Key"]
    asset_hash = key.removesuffix(".zip")
    (directory,) = [p for p in Path(assembly.root).rglob(f"asset.{asset_hash}") if p.is_dir()]
    files = sorted(
        str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file()
    )
    assert files == [
        "__init__.py",
        "deployed_checks/__init__.py",
        "deployed_checks/api.py",
        "deployed_checks/hook.py",
        "deployed_checks/lambda_function.py",
        "deployed_checks/signin.py",
        "deployed_checks/site.py",
    ]


def test_the_hook_knows_the_pool_and_the_checks_client_where_the_contract_checks_sign_in(
    assembly: Assembly, config: DeliveryConfig, env: EnvironmentConfig
) -> None:
    stateless = assembly.template(f"{config.project.name}-{env.name}-stateless")
    (function,) = properties(part(stateless, "Services"), "AWS::Lambda::Function")
    variables = function["Environment"]["Variables"]
    if not checks_sign_in(env):
        # Prod: smoke only, anonymous; nothing about sign-in reaches its hook.
        assert set(variables) == {"TEST_URL", "CHECKS"}
        return
    stateful = assembly.template(f"{config.project.name}-{env.name}-stateful")
    (pool_id,) = resources(stateful, "AWS::Cognito::UserPool")
    assert stack_output(assembly, variables["CHECKS_USER_POOL_ID"]) == {"Ref": pool_id}
    (checks_client,) = [
        logical_id
        for logical_id, client in resources(stateless, "AWS::Cognito::UserPoolClient").items()
        if client["Properties"]["ExplicitAuthFlows"][0] == "ALLOW_ADMIN_USER_PASSWORD_AUTH"
    ]
    assert variables["CHECKS_CLIENT_ID"] == {"Ref": checks_client}
