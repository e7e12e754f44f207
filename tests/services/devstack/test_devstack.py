"""The dev stack's parts that follow the service registry: reading it, starting a service
from its own folder, and the event topology it builds in moto."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest

from todo_devstack.__main__ import SERVICES, plan_services, service_environment
from todo_devstack.launch import LaunchError, dockerfile_command, local_settings, python_path
from todo_devstack.registry import (
    CONFIG_VARIABLE,
    RegistryError,
    ServiceSpec,
    load_registry,
    registry_file,
)
from todo_devstack.sqs import client as sqs_client
from todo_devstack.topology import create_topology, sns_client

EVENT_TYPES = ["todo.created", "todo.updated", "todo.completed", "todo.deleted"]

# A registry as config/environments.toml writes it (the dev stack reads only these tables).
REGISTRY = """\
[project]
name = "todo"

[services.api]
kind = "http"
path_pattern = "/api/*"
port = 8000
health_check_path = "/api/health"
database = true
publishes_events = true

[services.api.deployment_alarms]
target_5xx_count = 5
p99_latency_seconds = 2.0

[services.worker]
kind = "consumer"
consumes = ["todo.created", "todo.updated", "todo.completed", "todo.deleted"]
health_command = ["python", "-m", "todo_worker.health"]
database = true

[services.worker.deployment_alarms]
backlog_age_seconds = 600
"""


def write(directory: Path, text: str, name: str = "environments.toml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ the registry


def test_the_registry_is_read_with_its_defaults(tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, REGISTRY))
    assert registry.project == "todo"
    assert registry.services["api"] == ServiceSpec(
        name="api",
        kind="http",
        database=True,
        publishes_events=True,
        port=8000,
        health_check_path="/api/health",
    )
    assert registry.consumers() == {"worker": tuple(EVENT_TYPES)}
    assert registry.service_name("worker") == "todo-worker"
    minimal = load_registry(
        write(tmp_path, '[services.mailer]\nkind = "consumer"\nhealth_command = ["true"]\n')
    )
    mailer = minimal.services["mailer"]
    assert (mailer.database, mailer.publishes_events, mailer.consumes) == (False, False, ())


def test_the_registry_file_is_the_checkouts_unless_delivery_config_names_one(
    tmp_path: Path,
) -> None:
    assert registry_file(tmp_path, {}) == tmp_path / "config" / "environments.toml"
    other = tmp_path / "other.toml"
    assert registry_file(tmp_path, {CONFIG_VARIABLE: str(other)}) == other


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[project]\nname = 'todo'\n", r"no \[services.<name>\] tables"),
        ("[services.api\n", "not TOML"),
        ('[services.api]\nkind = "lambda"\n', r"services.api.kind: must be one of http, consumer"),
        (
            '[services.w]\nkind = "consumer"\nhealth_command = ["x"]\nconsumes = "todo.created"\n',
            r"services.w.consumes: must be a list of strings",
        ),
        (
            '[services.api]\nkind = "http"\nport = true\nhealth_check_path = "/h"\n',
            r"services.api.port: must be int, got True",
        ),
        ('[services.api]\nkind = "http"\nport = 8000\n', "needs port and health_check_path"),
        ('[services.w]\nkind = "consumer"\n', "a consumer needs health_command"),
    ],
)
def test_a_registry_the_stack_cannot_use_is_one_line_naming_the_key(
    tmp_path: Path, text: str, error: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RegistryError, match=error) as caught:
        load_registry(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert "\n" not in str(caught.value)


def test_a_missing_registry_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"missing.toml: cannot read the service registry"):
        load_registry(tmp_path / "missing.toml")


# ------------------------------------------------------------------ starting a service


def test_a_service_starts_with_its_images_command_on_this_interpreter() -> None:
    assert dockerfile_command(SERVICES / "api" / "Dockerfile") == [
        sys.executable,
        "-m",
        "todo_api",
    ]
    assert dockerfile_command(SERVICES / "worker" / "Dockerfile")[1:] == ["-m", "todo_worker"]


@pytest.mark.parametrize(
    ("dockerfile", "error"),
    [
        ("FROM x\n", "no CMD"),
        ("FROM x\nCMD python -m todo_x\n", r"CMD must be the exec form"),
    ],
)
def test_a_start_command_that_cannot_be_used_is_one_line(
    tmp_path: Path, dockerfile: str, error: str
) -> None:
    with pytest.raises(LaunchError, match=error):
        dockerfile_command(write(tmp_path, dockerfile, "Dockerfile"))
    with pytest.raises(LaunchError, match="cannot read the start command"):
        dockerfile_command(tmp_path / "absent" / "Dockerfile")


def test_the_workers_local_settings_come_from_its_own_folder(tmp_path: Path) -> None:
    settings = local_settings(SERVICES / "worker", data_dir=tmp_path)
    assert settings == {
        "WORKER_WAIT_TIME_SECONDS": "5",
        "WORKER_RETRY_DELAY_SECONDS": "2",
        "WORKER_HEARTBEAT_FILE": f"{tmp_path}/worker.heartbeat",
    }
    assert local_settings(SERVICES / "api", data_dir=tmp_path) == {}


@pytest.mark.parametrize(
    ("line", "error"),
    [("JUST_A_KEY", "expected KEY=VALUE"), ("X={data}/x", r"unknown placeholder \{data\}")],
)
def test_a_bad_local_settings_line_names_file_and_line(
    tmp_path: Path, line: str, error: str
) -> None:
    write(tmp_path, f"# comment\n\nOK=1\n{line}\n", "devstack.env")
    with pytest.raises(LaunchError, match=rf"devstack.env:4: {error}"):
        local_settings(tmp_path, data_dir=tmp_path)


def test_every_service_folder_holding_a_package_is_on_the_python_path(tmp_path: Path) -> None:
    folders = python_path(SERVICES).split(":")
    assert {Path(f).name for f in folders} == {"api", "common", "devstack", "worker"}
    new = tmp_path / "mailer" / "todo_mailer"
    new.mkdir(parents=True)
    (new / "__init__.py").touch()
    (tmp_path / "web" / "src").mkdir(parents=True)
    assert python_path(tmp_path) == str(tmp_path / "mailer")


def test_the_plan_starts_the_http_service_first_and_refuses_an_unstartable_one(
    tmp_path: Path,
) -> None:
    _, plan = plan_services(write(tmp_path, REGISTRY))
    assert [spec.name for spec, _ in plan] == ["api", "worker"]
    with pytest.raises(LaunchError, match=r"services/mailer/Dockerfile: cannot read"):
        plan_services(
            write(
                tmp_path,
                REGISTRY + '[services.mailer]\nkind = "consumer"\nhealth_command = ["true"]\n',
            )
        )
    second_http = '[services.admin]\nkind = "http"\nport = 1\nhealth_check_path = "/h"\n'
    with pytest.raises(RegistryError, match="one http service; the registry has 2"):
        plan_services(write(tmp_path, REGISTRY + second_http))


# ------------------------------------------------------------------ the topology


def test_the_topology_subscribes_each_consumer_as_the_infra_does(
    tmp_path: Path, sqs_endpoint: str
) -> None:
    registry = load_registry(write(tmp_path, REGISTRY))
    sns, sqs = sns_client(sqs_endpoint), sqs_client(sqs_endpoint)
    prefix = f"t{uuid.uuid4().hex[:8]}"
    topology = create_topology(sns, sqs, prefix, registry.consumers())
    assert topology.topic_arn.endswith(f":{prefix}-events")
    assert list(topology.queues) == ["worker"]
    queue = topology.queues["worker"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(f":{prefix}-worker-dlq")
    assert int(redrive["maxReceiveCount"]) == 4
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=topology.topic_arn)["Subscriptions"]
    assert subscription["Endpoint"] == attributes["QueueArn"]
    wanted = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])
    assert wanted["Attributes"]["RawMessageDelivery"] == "true"
    assert wanted["Attributes"]["FilterPolicyScope"] == "MessageBody"
    assert json.loads(wanted["Attributes"]["FilterPolicy"]) == {"type": sorted(EVENT_TYPES)}

    # What each service is given: the publisher the topic, the consumer its own queue.
    api = service_environment(registry, registry.services["api"], topology)
    assert api == {"SERVICE_NAME": "todo-api", "EVENTS_TOPIC_ARN": topology.topic_arn}
    worker = service_environment(registry, registry.services["worker"], topology)
    assert worker == {"SERVICE_NAME": "todo-worker", "QUEUE_URL": queue.url}
