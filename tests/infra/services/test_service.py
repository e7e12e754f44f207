"""A service gets what its registry entry declares, nothing by its name.

One environment is synthesized with the shipped registry plus a third service, a consumer
without database access that reads one event type, as a fork would add it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App

from config.model import ConsumerAlarms, ConsumerService, DeliveryConfig
from config.paths import ROOT
from infra.images import ServiceImage
from infra.services.tracing import XRAY_ACTIONS
from infra.stage import EnvironmentStage
from tests.support.assembly import properties, resources

# The module synthesizes its own app once: on one worker.
pytestmark = pytest.mark.xdist_group("third-service-stage")

THIRD = "notifier"
THIRD_CONSUMES = ["todo.completed"]


@pytest.fixture(scope="module")
def templates(
    config: DeliveryConfig, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """The services, messaging and observability templates of dev with the third service
    (services and observability are both the stateless stack, messaging the stateful one)."""
    registry = {
        **config.services,
        THIRD: ConsumerService(
            kind="consumer",
            consumes=THIRD_CONSUMES,
            health_command=["python", "-m", "todo_notifier.health"],
            deployment_alarms=ConsumerAlarms(backlog_age_seconds=300),
        ),
    }
    dev = config.environment("dev")
    sizes = {**dev.services, THIRD: dev.services["worker"]}
    environment = dev.model_copy(update={"services": sizes})
    images = {
        name: ServiceImage(
            service=name,
            account=config.pipeline.account,
            region=config.pipeline.region,
            repository_name=f"{config.project.name}/{name}",
            tag="f" * 64,
            context=ROOT / "services",
            dockerfile=f"{name}/Dockerfile",
        )
        for name in registry
    }
    outdir = tmp_path_factory.mktemp("third-service")
    app = App(outdir=str(outdir))
    stage = EnvironmentStage(
        app,
        "dev",
        project=config.project,
        registry=registry,
        environment=environment,
        images=images,
        web_dist=ROOT / "services" / "web" / "dist",
    )
    assembly = app.synth().get_nested_assembly(f"assembly-{stage.stage_name}")
    return {
        component: assembly.get_stack_by_name(stack.stack_name).template
        for component, stack in (
            ("services", stage.stateless),
            ("messaging", stage.stateful),
            ("observability", stage.stateless),
        )
    }


def _containers(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        container["Name"]: {"task": task, "container": container}
        for task in properties(template, "AWS::ECS::TaskDefinition")
        for container in task["ContainerDefinitions"]
    }


def _variables(container: dict[str, Any]) -> dict[str, Any]:
    return {item["Name"]: item["Value"] for item in container.get("Environment", [])}


def _task_role_actions(template: dict[str, Any], task: dict[str, Any]) -> set[str]:
    role = {"Ref": task["TaskRoleArn"]["Fn::GetAtt"][0]}
    actions: set[str] = set()
    for policy in properties(template, "AWS::IAM::Policy"):
        if role in policy["Roles"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                value = statement["Action"]
                actions |= {value} if isinstance(value, str) else set(value)
    return actions


def test_a_consumer_without_database_gets_no_database_access(
    templates: dict[str, dict[str, Any]],
) -> None:
    services = templates["services"]
    third = _containers(services)[THIRD]
    variables = _variables(third["container"])
    assert not {key for key in variables if key.startswith("DATABASE_")}
    assert "EVENTS_TOPIC_ARN" not in variables
    assert variables["SERVICE_NAME"] == f"todo-{THIRD}"
    assert variables[f"{THIRD.upper()}_SHUTDOWN_TIMEOUT_SECONDS"] == "20"
    actions = _task_role_actions(services, third["task"])
    # Its queue, and the trace collector's X-Ray writes every service's task role has.
    assert actions == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "kms:Decrypt",
        *XRAY_ACTIONS,
    }
    # One way into the proxy per service that declares the database: the api and the worker.
    to_proxy = [
        rule
        for rule in properties(services, "AWS::EC2::SecurityGroupIngress")
        if rule["FromPort"] == 5432
    ]
    assert sorted(rule["Description"] for rule in to_proxy) == [
        "PostgreSQL from the api tasks",
        "PostgreSQL from the worker tasks",
    ]


def test_the_consumer_reads_its_own_queue_with_its_own_filter(
    templates: dict[str, dict[str, Any]], config: DeliveryConfig
) -> None:
    messaging = templates["messaging"]
    subscriptions = properties(messaging, "AWS::SNS::Subscription")
    filters = sorted(sorted(s["FilterPolicy"]["type"]) for s in subscriptions)
    worker_consumes = config.consumers["worker"].consumes
    assert filters == sorted([sorted(THIRD_CONSUMES), sorted(worker_consumes)])
    assert (
        len(resources(messaging, "AWS::SQS::Queue")) == 4
    )  # a queue and a dead-letter queue per consumer
    third = _containers(templates["services"])[THIRD]["container"]
    queue_url = _variables(third)["QUEUE_URL"]
    worker_url = _variables(_containers(templates["services"])["worker"]["container"])["QUEUE_URL"]
    assert queue_url != worker_url


def test_the_consumer_is_scaled_and_rolled_back_on_its_own_backlog(
    templates: dict[str, dict[str, Any]],
) -> None:
    services = templates["services"]
    alarms = {
        logical_id: alarm["Properties"]
        for logical_id, alarm in resources(services, "AWS::CloudWatch::Alarm").items()
    }
    third_service = next(
        s for s in properties(services, "AWS::ECS::Service") if THIRD in json.dumps(s).lower()
    )
    (name,) = third_service["DeploymentConfiguration"]["Alarms"]["AlarmNames"]
    backlog = alarms[name["Ref"]]
    assert backlog["AlarmName"] == f"todo-dev/health/{THIRD}-backlog-age"
    assert backlog["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert backlog["Threshold"] == 300
    # Not behind the load balancer: a consumer has no target group.
    assert "LoadBalancers" not in third_service


def test_monitoring_watches_every_consumer_queue(templates: dict[str, dict[str, Any]]) -> None:
    names = {
        alarm["AlarmName"]
        for alarm in properties(templates["observability"], "AWS::CloudWatch::Alarm")
        if "AlarmName" in alarm
    }
    for consumer in ("worker", THIRD):
        assert f"todo-dev/health/{consumer}-new-dead-letters" in names
        assert f"todo-dev/health/{consumer}-queue-age" in names
        assert f"todo-dev/health/{consumer}-no-tasks" in names
    assert "todo-dev/health/api-outbox-backlog" in names
