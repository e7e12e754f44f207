"""Every service's traces, per environment, in the synthesized stateless stack: the ADOT
collector beside each app container, its configuration, the app's TRACING_* settings, the task
role's X-Ray grant and the task's size (infra/services/tracing.py, docs/tracing.md)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from config.model import DeliveryConfig, EnvironmentConfig
from infra.services.tracing import (
    COLLECTOR_IMAGE,
    COLLECTOR_NAME,
    COLLECTOR_VERSION,
    XRAY_ACTIONS,
    app_environment,
    collector_config,
)
from policies.images import image_problem
from tests.support.assembly import Assembly, part, properties

Task = dict[str, Any]


@pytest.fixture(scope="module")
def template(assembly: Assembly, config: DeliveryConfig, env: EnvironmentConfig) -> dict[str, Any]:
    return part(assembly.template(f"{config.project.name}-{env.name}-stateless"), "Services")


@pytest.fixture(scope="module")
def tasks(template: dict[str, Any], config: DeliveryConfig) -> dict[str, Task]:
    """Each registry service's task definition, by the service's name (its first container)."""
    found = {
        task["ContainerDefinitions"][0]["Name"]: task
        for task in properties(template, "AWS::ECS::TaskDefinition")
        if task["ContainerDefinitions"][0]["Name"] in config.services
    }
    assert set(found) == set(config.services)
    return found


def _container(task: Task, name: str) -> dict[str, Any]:
    (container,) = [c for c in task["ContainerDefinitions"] if c["Name"] == name]
    return dict(container)


def _variables(container: dict[str, Any]) -> dict[str, Any]:
    return {item["Name"]: item["Value"] for item in container.get("Environment", [])}


def _config_of(task: Task) -> dict[str, Any]:
    """The collector's configuration as the image reads it: YAML in AOT_CONFIG_CONTENT."""
    content = _variables(_container(task, COLLECTOR_NAME))["AOT_CONFIG_CONTENT"]
    assert isinstance(content, str), "the configuration must be a literal, not a reference"
    parsed = yaml.safe_load(content)
    assert isinstance(parsed, dict)
    return parsed


def test_each_service_runs_the_pinned_collector_beside_it_never_essential(
    tasks: dict[str, Task],
) -> None:
    for name, task in tasks.items():
        names = [c["Name"] for c in task["ContainerDefinitions"]]
        assert names == [name, COLLECTOR_NAME]
        app, collector = _container(task, name), _container(task, COLLECTOR_NAME)
        assert collector["Image"] == COLLECTOR_IMAGE
        assert f":{COLLECTOR_VERSION}@sha256:" in collector["Image"]
        # Tracing failure never stops the app: the collector is not essential, the app waits
        # for its start only (so ECS stops it after the app), and a crashed collector restarts
        # alone.
        assert app["Essential"] is True and collector["Essential"] is False
        assert app["DependsOn"] == [{"ContainerName": COLLECTOR_NAME, "Condition": "START"}]
        assert collector["StopTimeout"] == 10
        assert (
            collector["Environment"]
            and {"Name": "GOMEMLIMIT", "Value": "200MiB"} in (collector["Environment"])
        )
        assert collector["RestartPolicy"]["Enabled"] is True
        assert collector["ReadonlyRootFilesystem"] is True
        user, _, group = collector["User"].partition(":")
        assert user not in {"", "0", "root"} and group not in {"0", "root"}
        assert collector["HealthCheck"]["Command"] == ["CMD", "/healthcheck"]
        # The service's own log group, under a stream prefix of its own.
        app_logs = app["LogConfiguration"]["Options"]
        collector_logs = collector["LogConfiguration"]["Options"]
        assert collector_logs["awslogs-group"] == app_logs["awslogs-group"]
        assert collector_logs["awslogs-stream-prefix"] != app_logs["awslogs-stream-prefix"]
        assert "PortMappings" not in collector


def test_the_collector_image_follows_the_image_rules() -> None:
    """ECR Public and a digest, as policies/images.py demands of every image we pull."""
    assert image_problem(COLLECTOR_IMAGE) is None


def test_the_collector_takes_otlp_http_on_loopback_and_exports_traces_to_xray_in_region(
    tasks: dict[str, Task], env: EnvironmentConfig
) -> None:
    for task in tasks.values():
        config = _config_of(task)
        assert config["receivers"] == {
            "otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:4318"}}}
        }
        assert config["exporters"]["awsxray"]["region"] == env.region
        service = config["service"]
        assert service["pipelines"] == {
            "traces": {
                "receivers": ["otlp"],
                "processors": ["memory_limiter", "batch"],
                "exporters": ["awsxray"],
            }
        }
        assert set(config["processors"]) == {"memory_limiter", "batch"}
        # The container's health check asks the extension on loopback.
        assert service["extensions"] == ["health_check"]
        assert config["extensions"]["health_check"]["endpoint"] == "127.0.0.1:13133"


def _endpoints(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [str(v) for k, v in value.items() if k == "endpoint"]
        return found + [e for v in value.values() for e in _endpoints(v)]
    if isinstance(value, list):
        return [e for v in value for e in _endpoints(v)]
    return []


def test_nothing_the_collector_listens_on_is_reachable_from_outside_the_task(
    tasks: dict[str, Task],
) -> None:
    for task in tasks.values():
        endpoints = _endpoints(_config_of(task))
        assert endpoints
        assert all(endpoint.startswith("127.0.0.1:") for endpoint in endpoints), endpoints
        assert _config_of(task)["service"]["telemetry"]["metrics"]["level"] == "none"


def test_each_app_exports_to_its_collector_at_the_environments_ratio(
    tasks: dict[str, Task], env: EnvironmentConfig
) -> None:
    for name, task in tasks.items():
        variables = _variables(_container(task, name))
        assert variables["TRACING_EXPORTER"] == "otlp"
        receiver = _config_of(task)["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
        assert variables["TRACING_ENDPOINT"] == f"http://{receiver}/v1/traces"
        assert float(variables["TRACING_SAMPLE_RATIO"]) == env.tracing.sample_ratio


def _role_statements(template: dict[str, Any], role_arn: Any) -> list[dict[str, Any]]:
    role = {"Ref": role_arn["Fn::GetAtt"][0]}
    return [
        statement
        for policy in properties(template, "AWS::IAM::Policy")
        if role in policy["Roles"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> set[str]:
    value = statement["Action"]
    return {value} if isinstance(value, str) else set(value)


def test_the_task_role_writes_traces_and_only_its_task_role(
    template: dict[str, Any], tasks: dict[str, Task]
) -> None:
    for task in tasks.values():
        statements = _role_statements(template, task["TaskRoleArn"])
        xray = [s for s in statements if any(a.startswith("xray:") for a in _actions(s))]
        (grant,) = xray
        assert _actions(grant) == set(XRAY_ACTIONS)
        assert grant["Effect"] == "Allow" and grant["Resource"] == "*"
        assert "Condition" not in grant
        # No other statement of the task role reaches every resource.
        assert all(s["Resource"] != "*" for s in statements if s is not grant)
        execution = _role_statements(template, task["ExecutionRoleArn"])
        assert not [s for s in execution if any(a.startswith("xray:") for a in _actions(s))]


def test_the_containers_fit_in_the_task_and_the_app_keeps_the_rest(
    tasks: dict[str, Task], env: EnvironmentConfig
) -> None:
    for name, task in tasks.items():
        size = env.services[name]
        assert (int(task["Cpu"]), int(task["Memory"])) == (size.cpu, size.memory)
        containers = task["ContainerDefinitions"]
        assert sum(c.get("Cpu", 0) for c in containers) <= size.cpu
        assert _container(task, name)["Cpu"] + _container(task, COLLECTOR_NAME)["Cpu"] == size.cpu
        # Hard limits (or, without one, the reservation) together fit in the task's memory.
        reserved = [c.get("Memory", c.get("MemoryReservation", 0)) for c in containers]
        assert sum(reserved) <= size.memory
        collector = _container(task, COLLECTOR_NAME)
        assert collector["MemoryReservation"] <= collector["Memory"] < size.memory
        limiter = _config_of(task)["processors"]["memory_limiter"]
        assert limiter["limit_mib"] < collector["Memory"]


def test_a_sample_ratio_outside_0_to_1_is_refused() -> None:
    assert app_environment(sample_ratio=0)["TRACING_SAMPLE_RATIO"] == "0.0"
    assert app_environment(sample_ratio=1)["TRACING_SAMPLE_RATIO"] == "1.0"
    with pytest.raises(ValueError, match=r"between 0 and 1, got 1\.5"):
        app_environment(sample_ratio=1.5)


def test_the_configuration_names_the_region_it_is_given() -> None:
    assert collector_config(region="ap-south-2")["exporters"] == {
        "awsxray": {"region": "ap-south-2"}
    }
