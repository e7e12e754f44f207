"""The services of each environment (stateless stack): cluster, ALB, the api and the worker."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.model import DeliveryConfig, EnvironmentConfig
from infra.services.tracing import COLLECTOR_NAME, XRAY_ACTIONS
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


def test_every_service_rolls_back_on_its_deployment_alarms(template: dict[str, Any]) -> None:
    services = properties(template, "AWS::ECS::Service")
    assert len(services) == 2
    for service in services:
        alarms = service["DeploymentConfiguration"]["Alarms"]
        assert alarms["Enable"] is True and alarms["Rollback"] is True
        assert alarms["AlarmNames"]


def test_every_service_stops_a_deployment_whose_tasks_never_start(
    template: dict[str, Any],
) -> None:
    for service in properties(template, "AWS::ECS::Service"):
        breaker = service["DeploymentConfiguration"]["DeploymentCircuitBreaker"]
        assert breaker == {"Enable": True, "Rollback": True}


def test_the_worker_deploys_rolling_with_the_circuit_breaker(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    (worker,) = [s for s in properties(template, "AWS::ECS::Service") if not s.get("LoadBalancers")]
    deployment = worker["DeploymentConfiguration"]
    assert "Strategy" not in deployment  # ECS's default: ROLLING
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert deployment["MinimumHealthyPercent"] == (100 if env.protect_data else 50)


def test_prod_never_drops_below_the_desired_count(assembly: Assembly) -> None:
    for service in properties(assembly.template("todo-prod-stateless"), "AWS::ECS::Service"):
        assert service["DeploymentConfiguration"]["MinimumHealthyPercent"] == 100


def test_api_deployment_alarms_watch_5xx_latency_and_unhealthy_targets_of_both_groups(
    template: dict[str, Any],
) -> None:
    names = _api_service(template)["DeploymentConfiguration"]["Alarms"]["AlarmNames"]
    alarms = {
        logical_id: alarm["Properties"]
        for logical_id, alarm in resources(template, "AWS::CloudWatch::Alarm").items()
    }
    watched = [alarms[name["Ref"]] for name in names]
    single = {a["MetricName"]: a for a in watched if "MetricName" in a}
    assert sorted(single) == ["HTTPCode_Target_5XX_Count", "TargetResponseTime"]
    assert single["TargetResponseTime"]["ExtendedStatistic"] == "p99"
    # The load balancer's figures: production moves between the groups, the ALB serves only it.
    for alarm in single.values():
        assert [d["Name"] for d in alarm["Dimensions"]] == ["LoadBalancer"]
    (unhealthy,) = [a for a in watched if "Metrics" in a]
    groups = {
        json.dumps(m["MetricStat"]["Metric"]["Dimensions"][1]["Value"])
        for m in unhealthy["Metrics"]
        if "MetricStat" in m
    }
    assert groups == {
        json.dumps({"Fn::GetAtt": [group_id, "TargetGroupFullName"]})
        for group_id in resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    }
    (expression,) = [m for m in unhealthy["Metrics"] if "Expression" in m]
    assert expression["Expression"] == "MAX([blue, green])"
    assert unhealthy["Threshold"] == 0


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


def _listener(template: dict[str, Any], port: int = 80) -> dict[str, Any]:
    (listener,) = [
        listener
        for listener in properties(template, "AWS::ElasticLoadBalancingV2::Listener")
        if listener["Port"] == port
    ]
    return listener


def test_the_production_listener_forwards_the_api_path_without_any_header_gate(
    template: dict[str, Any],
) -> None:
    listener = _listener(template)
    # Plain HTTP inside the VPC: see the CKV_AWS_2 reason on the listener for the transport.
    assert listener["Protocol"] == "HTTP"
    (listener_id,) = [
        logical_id
        for logical_id, resource in resources(
            template, "AWS::ElasticLoadBalancingV2::Listener"
        ).items()
        if resource["Properties"]["Port"] == 80
    ]
    (rule,) = [
        rule
        for rule in properties(template, "AWS::ElasticLoadBalancingV2::ListenerRule")
        if rule["ListenerArn"] == {"Ref": listener_id}
    ]
    assert rule["Conditions"] == [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}
    ]


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
    (rule,) = [r for r in inline + separate if r["FromPort"] == 80]
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
    blue, green = properties(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    # Green takes over production: it must check and drain exactly as blue does.
    assert {k: v for k, v in blue.items() if k != "Tags"} == {
        k: v for k, v in green.items() if k != "Tags"
    }
    assert blue["HealthCheckPath"] == "/api/health"
    attributes = {a["Key"]: a["Value"] for a in blue["TargetGroupAttributes"]}
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
    tracking = [
        p["TargetTrackingScalingPolicyConfiguration"]
        for p in properties(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
        if "TargetTrackingScalingPolicyConfiguration" in p
    ]
    predefined = [
        t["PredefinedMetricSpecification"]["PredefinedMetricType"]
        for t in tracking
        if "PredefinedMetricSpecification" in t
    ]
    assert predefined == ["ECSServiceAverageCPUUtilization"]
    # Requests per target summed over both groups: each deployment moves production between them.
    (requests,) = [t["CustomizedMetricSpecification"] for t in tracking if "Customized" in str(t)]
    assert set(requests) == {"Metrics"}
    stats = [m["MetricStat"] for m in requests["Metrics"] if "MetricStat" in m]
    assert [s["Metric"]["MetricName"] for s in stats] == ["RequestCountPerTarget"] * 2
    groups = {s["Metric"]["Dimensions"][1]["Value"]["Fn::GetAtt"][0] for s in stats}
    assert groups == set(resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup"))
    (total,) = [m for m in requests["Metrics"] if m.get("ReturnData")]
    assert total["Expression"] == "FILL(blue, 0) + FILL(green, 0)"


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
    # The trace collector's X-Ray writes are every service's (tests/infra/services/test_tracing.py).
    statements = [
        s for s in _task_role_statements(template, "api") if _actions([s]) != set(XRAY_ACTIONS)
    ]
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
    """The images the pipeline builds, by service (the trace collector's is ECR Public's:
    tests/infra/services/test_tracing.py)."""
    template = assembly.template(f"todo-{env}-stateless")
    uris = {}
    for task in properties(template, "AWS::ECS::TaskDefinition"):
        for container in task["ContainerDefinitions"]:
            if container["Name"] == COLLECTOR_NAME:
                continue
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
