"""The services of each environment (stateless stack): cluster, ALB, the api and the worker."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.model import DeliveryConfig, EnvironmentConfig
from tests.support.assembly import (
    ENVIRONMENTS,
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


def _container(template: dict[str, Any], name: str) -> dict[str, Any]:
    for task in properties(template, "AWS::ECS::TaskDefinition"):
        for container in task["ContainerDefinitions"]:
            if container["Name"] == name:
                return dict(container)
    raise KeyError(name)


def _env_vars(container: dict[str, Any]) -> dict[str, Any]:
    return {item["Name"]: item["Value"] for item in container.get("Environment", [])}


def _api_service(template: dict[str, Any]) -> dict[str, Any]:
    (service,) = [s for s in properties(template, "AWS::ECS::Service") if s.get("LoadBalancers")]
    return service


def test_cluster_has_container_insights(template: dict[str, Any]) -> None:
    (cluster,) = properties(template, "AWS::ECS::Cluster")
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["ClusterSettings"]


def test_every_service_rolls_back_on_circuit_breaker_and_alarms(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    services = properties(template, "AWS::ECS::Service")
    assert services
    for service in services:
        deployment = service["DeploymentConfiguration"]
        assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
        alarms = deployment["Alarms"]
        assert alarms["Enable"] is True and alarms["Rollback"] is True
        assert alarms["AlarmNames"]
        assert deployment["MinimumHealthyPercent"] == (100 if env.protect_data else 50)


def test_prod_never_drops_below_the_desired_count(assembly: Assembly) -> None:
    for service in properties(assembly.template("todo-prod-stateless"), "AWS::ECS::Service"):
        assert service["DeploymentConfiguration"]["MinimumHealthyPercent"] == 100


def test_api_deployment_alarms_watch_target_5xx_and_p99_latency(template: dict[str, Any]) -> None:
    names = _api_service(template)["DeploymentConfiguration"]["Alarms"]["AlarmNames"]
    alarms = {
        logical_id: alarm["Properties"]
        for logical_id, alarm in resources(template, "AWS::CloudWatch::Alarm").items()
    }
    watched = [alarms[name["Ref"]] for name in names]
    assert sorted(a["MetricName"] for a in watched) == [
        "HTTPCode_Target_5XX_Count",
        "TargetResponseTime",
    ]
    (latency,) = [a for a in watched if a["MetricName"] == "TargetResponseTime"]
    assert latency["ExtendedStatistic"] == "p99"


def test_api_runs_in_private_subnets_behind_the_alb_on_8000(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    service = _api_service(template)
    network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    assert all("private" in json.dumps(subnet).lower() for subnet in network["Subnets"])
    (load_balancer,) = service["LoadBalancers"]
    assert load_balancer["ContainerPort"] == 8000
    assert service["DesiredCount"] == env.services["api"].min_tasks
    provider = "FARGATE_SPOT" if env.services["api"].spot else "FARGATE"
    assert [s["CapacityProvider"] for s in service["CapacityProviderStrategy"]] == [provider]


def _network_resource(assembly: Assembly, reference: Any) -> tuple[dict[str, Any], str]:
    """The stateful stack's template and the logical id a cross-stack reference points at."""
    target = stack_output(assembly, reference)
    network = assembly.template(reference["Fn::GetStackOutput"]["StackName"])
    return network, str(target["Ref"])


def _routes_of(network: dict[str, Any], subnet_id: str) -> list[dict[str, Any]]:
    (table,) = [
        association["RouteTableId"]
        for association in properties(network, "AWS::EC2::SubnetRouteTableAssociation")
        if association["SubnetId"] == {"Ref": subnet_id}
    ]
    return [
        route for route in properties(network, "AWS::EC2::Route") if route["RouteTableId"] == table
    ]


def test_alb_is_internal_in_the_private_subnets_with_access_logs(
    assembly: Assembly, template: dict[str, Any], env: EnvironmentConfig
) -> None:
    (alb,) = properties(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert alb["Scheme"] == "internal"
    # One private subnet per AZ: each reaches the internet only outbound, through a NAT.
    assert len(alb["Subnets"]) == env.network.max_azs
    for reference in alb["Subnets"]:
        network, subnet_id = _network_resource(assembly, reference)
        # A VPC origin needs an internet gateway attached to the VPC (not routed to).
        (attachment,) = properties(network, "AWS::EC2::VPCGatewayAttachment")
        assert "InternetGatewayId" in attachment
        subnet = network["Resources"][subnet_id]
        assert subnet["Type"] == "AWS::EC2::Subnet"
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
        (default_route,) = [
            r for r in _routes_of(network, subnet_id) if r["DestinationCidrBlock"] == "0.0.0.0/0"
        ]
        assert set(default_route) & {"NatGatewayId", "GatewayId"} == {"NatGatewayId"}
    attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["deletion_protection.enabled"] == str(env.protect_data).lower()


def _listener(template: dict[str, Any]) -> dict[str, Any]:
    (listener,) = properties(template, "AWS::ElasticLoadBalancingV2::Listener")
    return listener


def test_the_one_listener_forwards_to_the_api_without_any_header_gate(
    template: dict[str, Any],
) -> None:
    listener = _listener(template)
    # Plain HTTP inside the VPC: see the CKV_AWS_2 reason on the listener for the transport.
    assert (listener["Protocol"], listener["Port"]) == ("HTTP", 80)
    (action,) = listener["DefaultActions"]
    (group_id,) = resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert action == {"Type": "forward", "TargetGroupArn": {"Ref": group_id}}
    assert resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule") == {}


def test_alb_admits_only_cloudfront_origin_facing_addresses_on_the_listener_port(
    template: dict[str, Any],
) -> None:
    (alb,) = properties(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    (group_ref,) = alb["SecurityGroups"]
    group_id = group_ref["Fn::GetAtt"][0]
    inline = template["Resources"][group_id]["Properties"].get("SecurityGroupIngress", [])
    separate = [
        rule
        for rule in properties(template, "AWS::EC2::SecurityGroupIngress")
        if rule["GroupId"] == group_ref
    ]
    (rule,) = inline + separate
    port = _listener(template)["Port"]
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", port, port)
    assert not {"CidrIp", "CidrIpv6", "SourceSecurityGroupId"} & set(rule)
    # The prefix list id differs per region: a deploy-time lookup by its AWS-managed name.
    lookup = ref_target(template, rule["SourcePrefixListId"])
    assert rule["SourcePrefixListId"]["Fn::GetAtt"][1] == "PrefixLists.0.PrefixListId"
    for event in ("Create", "Update"):
        call = json.loads(lookup["Properties"][event])
        assert (call["service"].lower(), call["action"]) == ("ec2", "DescribeManagedPrefixLists")
        assert call["parameters"]["Filters"] == [
            {
                "Name": "prefix-list-name",
                "Values": ["com.amazonaws.global.cloudfront.origin-facing"],
            }
        ]


def test_target_health_and_shutdown_are_tuned_together(template: dict[str, Any]) -> None:
    (group,) = properties(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert group["HealthCheckPath"] == "/api/health"
    attributes = {a["Key"]: a["Value"] for a in group["TargetGroupAttributes"]}
    delay = int(attributes["deregistration_delay.timeout_seconds"])
    api = _container(template, "api")
    drain = int(_env_vars(api)["API_SHUTDOWN_TIMEOUT_SECONDS"])
    assert drain < api["StopTimeout"] <= delay


def test_api_container_contract(template: dict[str, Any]) -> None:
    api = _container(template, "api")
    variables = _env_vars(api)
    assert {"DATABASE_SECRET_ARN", "DATABASE_HOST", "EVENTS_TOPIC_ARN"} <= variables.keys()
    # The relay publishes to the topic; the api reads no queue.
    assert "QUEUE_URL" not in variables
    assert variables["DATABASE_SSLMODE"] == "verify-full"
    assert variables["SERVICE_NAME"] == "todo-api"
    assert variables["API_PORT"] == "8000"
    assert "Secrets" not in api
    assert api["ReadonlyRootFilesystem"] is True
    assert api["MountPoints"] == [
        {"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "tmp"}  # noqa: S108
    ]
    assert api["PortMappings"][0]["ContainerPort"] == 8000


def test_logs_have_the_configured_retention(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    groups = properties(template, "AWS::Logs::LogGroup")
    assert groups
    assert all(g["RetentionInDays"] == env.log_retention_days and "KmsKeyId" in g for g in groups)


def test_api_scales_on_cpu_and_requests_within_configured_bounds(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    targets = properties(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    api_target = next(t for t in targets if t["MinCapacity"] == env.services["api"].min_tasks)
    assert api_target["MaxCapacity"] == env.services["api"].max_tasks
    metrics = sorted(
        p["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
            "PredefinedMetricType"
        ]
        for p in properties(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
        if "TargetTrackingScalingPolicyConfiguration" in p
    )
    assert metrics == ["ALBRequestCountPerTarget", "ECSServiceAverageCPUUtilization"]


def _role_statements(template: dict[str, Any], role: Any) -> list[dict[str, Any]]:
    role_id = role["Fn::GetAtt"][0]
    return [
        statement
        for policy in properties(template, "AWS::IAM::Policy")
        if {"Ref": role_id} in policy["Roles"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        value = statement["Action"]
        actions |= {value} if isinstance(value, str) else set(value)
    return actions


def _task_role_statements(template: dict[str, Any], container: str) -> list[dict[str, Any]]:
    (task,) = [
        t
        for t in properties(template, "AWS::ECS::TaskDefinition")
        if t["ContainerDefinitions"][0]["Name"] == container
    ]
    return _role_statements(template, task["TaskRoleArn"])


def test_api_task_role_reads_its_secret_and_publishes_to_the_topic_only(
    template: dict[str, Any],
) -> None:
    statements = _task_role_statements(template, "api")
    assert _actions(statements) == {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "sns:Publish",
    }
    assert all("*" not in json.dumps(s["Resource"]) for s in statements)
    (publish,) = [s for s in statements if s["Action"] == "sns:Publish"]
    assert "EventsTopicArn" in json.dumps(publish["Resource"]) or "Events" in json.dumps(
        publish["Resource"]
    )


def test_worker_reads_its_own_queue_and_publishes_nothing(template: dict[str, Any]) -> None:
    worker = _container(template, "worker")
    variables = _env_vars(worker)
    assert "QUEUE_URL" in variables and "EVENTS_TOPIC_ARN" not in variables
    assert variables["WORKER_SHUTDOWN_TIMEOUT_SECONDS"] == "20"
    assert worker["HealthCheck"]["Command"] == ["CMD", "python", "-m", "todo_worker.health"]


def test_execution_role_pulls_only_the_service_repository(
    template: dict[str, Any], config: DeliveryConfig
) -> None:
    for task in properties(template, "AWS::ECS::TaskDefinition"):
        statements = _role_statements(template, task["ExecutionRoleArn"])
        pulls = [s for s in statements if "ecr:BatchGetImage" in _actions([s])]
        (pull,) = pulls
        assert pull["Resource"].startswith(
            f"arn:aws:ecr:{config.pipeline.region}:{config.pipeline.account}:repository/"
        )


def test_task_security_groups_reach_the_proxy(template: dict[str, Any]) -> None:
    ingress = properties(template, "AWS::EC2::SecurityGroupIngress")
    to_proxy = [rule for rule in ingress if rule["FromPort"] == 5432]
    assert len(to_proxy) == len(properties(template, "AWS::ECS::Service"))
    # The proxy's security group comes from the stateful stack (an export, or a stack output).
    assert all(
        "Fn::ImportValue" in rule["GroupId"] or "Fn::GetStackOutput" in rule["GroupId"]
        for rule in to_proxy
    )


def test_outputs_name_the_internal_alb(template: dict[str, Any]) -> None:
    (alb_id,) = resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert template["Outputs"]["AlbDnsName"]["Value"] == {"Fn::GetAtt": [alb_id, "DNSName"]}
    assert "ApiOrigin" not in template["Outputs"]


def _image_uris(assembly: Assembly, env: str) -> dict[str, str]:
    template = assembly.template(f"todo-{env}-stateless")
    uris = {}
    for task in properties(template, "AWS::ECS::TaskDefinition"):
        for container in task["ContainerDefinitions"]:
            image = container["Image"]
            # {"Fn::Join": ["", [<account>.dkr.ecr.<region>., {"Ref": "AWS::URLSuffix"}, ...]]}
            uris[container["Name"]] = json.dumps(image, sort_keys=True)
    return uris


def test_every_environment_runs_the_identical_immutable_image(assembly: Assembly) -> None:
    uris = {env: _image_uris(assembly, env) for env in ENVIRONMENTS}
    assert uris["dev"] == uris["staging"] == uris["prod"]
    assert "api" in uris["dev"]
    for uri in uris["dev"].values():
        assert ":latest" not in uri
        assert uri.count(":") >= 1
        tag = json.loads(uri)["Fn::Join"][1][-1].rsplit(":", 1)[-1]
        assert len(tag) == 64, tag
