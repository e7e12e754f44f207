"""The worker service of prod, read from the session's synthesized assembly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.services.tracing import XRAY_ACTIONS
from tests.support.assembly import Assembly, part, properties, resources


@pytest.fixture(scope="module")
def templates(assembly: Assembly) -> dict[str, dict[str, Any]]:
    """Prod's stateless stack (services, alarms, dashboard) from the session's assembly."""
    stateless = assembly.template("todo-prod-stateless")
    return {
        "services": part(stateless, "Services"),
        "observability": part(stateless, "Monitoring"),
    }


@pytest.fixture(scope="module")
def services(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return templates["services"]


def _worker_task(services: dict[str, Any]) -> dict[str, Any]:
    (task,) = [
        t
        for t in properties(services, "AWS::ECS::TaskDefinition")
        if t["ContainerDefinitions"][0]["Name"] == "worker"
    ]
    return task


def _worker_service(services: dict[str, Any]) -> dict[str, Any]:
    (service,) = [
        s for s in properties(services, "AWS::ECS::Service") if not s.get("LoadBalancers")
    ]
    return service


def test_worker_runs_without_load_balancer_and_rolls_back(services: dict[str, Any]) -> None:
    service = _worker_service(services)
    deployment = service["DeploymentConfiguration"]
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert deployment["Alarms"]["Rollback"] is True
    assert deployment["MinimumHealthyPercent"] == 100


def test_worker_container_contract(services: dict[str, Any]) -> None:
    (container,) = [
        c for c in _worker_task(services)["ContainerDefinitions"] if c["Name"] == "worker"
    ]
    variables = {item["Name"] for item in container["Environment"]}
    assert {
        "DATABASE_SECRET_ARN",
        "DATABASE_HOST",
        "QUEUE_URL",
        "WORKER_SHUTDOWN_TIMEOUT_SECONDS",
    } <= variables
    assert container["HealthCheck"]["Command"] == ["CMD", "python", "-m", "todo_worker.health"]
    assert container["ReadonlyRootFilesystem"] is True
    assert "PortMappings" not in container


def test_worker_role_consumes_the_queue_and_reads_its_secret_only(
    services: dict[str, Any],
) -> None:
    role_id = _worker_task(services)["TaskRoleArn"]["Fn::GetAtt"][0]
    actions: set[str] = set()
    for policy in properties(services, "AWS::IAM::Policy"):
        if {"Ref": role_id} in policy["Roles"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                value = statement["Action"]
                granted = {value} if isinstance(value, str) else set(value)
                actions |= granted
                # Only X-Ray's writes, which have no resource type, reach every resource.
                if granted != set(XRAY_ACTIONS):
                    assert "*" not in json.dumps(statement["Resource"])
    assert actions == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "kms:Decrypt",
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        *XRAY_ACTIONS,
    }


def test_worker_scales_on_queue_depth(services: dict[str, Any]) -> None:
    steps = [
        p
        for p in properties(services, "AWS::ApplicationAutoScaling::ScalingPolicy")
        if "StepScalingPolicyConfiguration" in p
    ]
    assert steps
    alarms = [
        a
        for a in resources(services, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    ]
    assert alarms


def test_worker_has_dashboard_and_alarms(templates: dict[str, dict[str, Any]]) -> None:
    observability = templates["observability"]
    (dashboard,) = properties(observability, "AWS::CloudWatch::Dashboard")
    assert "worker: running tasks" in json.dumps(dashboard["DashboardBody"])
