"""Run-time IAM of the api and the worker: their real processes, started with the task
definition's environment and the credentials of the task role, against the local AWS and the
real local PostgreSQL.

Overridden, and only because it must point here: the database host (the RDS Proxy endpoint)
and its TLS mode (TLS verify-full against the proxy is proven by the container's start tests),
the listening address and port, and the heartbeat file. Everything the processes ask of AWS
(the database secret and its key, the event topic and its key, the worker's queue and its key)
goes to resources built from the environment's templates, each request authorized against the
task role; the topic delivers to the queue through the subscription the templates declare.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from config.model import load_config
from config.paths import ROOT
from infra.services.deployment_hook.runtime.deployed_checks.site import Site
from tests.support.api_process import ApiProcess
from tests.support.aws_world import World
from tests.support.cfn import StackInfo
from tests.support.databases import POSTGRES_URL, postgres_required
from tests.support.issuer import USER, running_issuer
from tests.support.local_aws import Decision, describe
from tests.support.runtimes import role_credentials

ENVIRONMENTS = [environment.name for environment in load_config().environments]
ACTIVITY_TIMEOUT_SECONDS = 30


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh database on the local PostgreSQL (a secret names a database, not a schema)."""
    admin = create_engine(
        POSTGRES_URL,
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )
    name = f"iam_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        if postgres_required():
            pytest.fail(f"REQUIRE_POSTGRES=1 but PostgreSQL is unreachable: {error.orig}")
        pytest.skip(f"PostgreSQL unreachable at {admin.url!r}: {error.orig}")
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def task_definition(stack: StackInfo, container: str) -> dict[str, Any]:
    for resource in stack.resources("AWS::ECS::TaskDefinition").values():
        definitions = resource["Properties"]["ContainerDefinitions"]
        if any(definition["Name"] == container for definition in definitions):
            return dict(resource["Properties"])
    raise AssertionError(f"{stack.name} has no task definition with a container {container!r}")


def task_environment(
    world: World, stack: StackInfo, container: str, **overrides: str
) -> dict[str, str]:
    """The container's environment and the task role's credentials, as Fargate sets them."""
    definition = task_definition(stack, container)
    (container_definition,) = (
        d for d in definition["ContainerDefinitions"] if d["Name"] == container
    )
    variables = {
        item["Name"]: str(item["Value"])
        for item in world.resolve(stack, container_definition.get("Environment", []))
    }
    variables.update(_injected_secrets(world, stack, definition, container_definition))
    credentials = role_credentials(
        world, stack, definition["TaskRoleArn"], service="ecs-tasks.amazonaws.com"
    )
    roots = ("services/common", f"services/{container}")
    return {
        "PATH": os.environ["PATH"],
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join(str(ROOT / root) for root in roots),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",  # as the image sets it
        **variables,
        **credentials,
        "AWS_ENDPOINT_URL": world.aws.endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        **overrides,
    }


def _injected_secrets(
    world: World, stack: StackInfo, definition: dict[str, Any], container: dict[str, Any]
) -> dict[str, str]:
    """`Secrets` of a container: the ECS agent reads them with the *execution* role before
    the container starts (its decisions are checked like the task's).
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html
    """
    import boto3  # noqa: PLC0415

    secrets = world.resolve(stack, container.get("Secrets", []))
    if not secrets:
        return {}
    credentials = role_credentials(
        world, stack, definition["ExecutionRoleArn"], service="ecs-tasks.amazonaws.com"
    )
    values = {}
    for item in secrets:
        arn, _, selector = str(item["ValueFrom"]).partition(":secret:")
        name, _, rest = selector.partition(":")
        if not arn.startswith("arn:aws:secretsmanager:"):
            raise NotImplementedError(
                f"secret {item['ValueFrom']}: only Secrets Manager is modelled"
            )
        client = boto3.client(
            "secretsmanager",
            region_name=arn.split(":")[3],
            endpoint_url=world.aws.endpoint,
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials["AWS_SESSION_TOKEN"],
        )
        value = client.get_secret_value(SecretId=f"{arn}:secret:{name}")["SecretString"]
        json_key = rest.split(":", 1)[0] if rest else ""
        values[item["Name"]] = str(json.loads(value)[json_key]) if json_key else value
    return values


def database_secret(database: str) -> str:
    """The secret as RDS writes it (the local server trusts loopback: the password is unused)."""
    return json.dumps(
        {
            "username": "postgres",
            "password": "not-checked-by-trust-auth",
            "host": "127.0.0.1",
            "port": 5432,
            "dbname": database,
            "engine": "postgres",
        }
    )


def task_role_name(world: World, stack: StackInfo, container: str) -> str:
    role_id = task_definition(stack, container)["TaskRoleArn"]["Fn::GetAtt"][0]
    return world.role(stack, role_id).rsplit("/", 1)[-1]


def made_by(decisions: list[Decision], role_name: str) -> list[Decision]:
    """The requests signed with the credentials of ``role_name`` (both processes run at once)."""
    return [d for d in decisions if f":assumed-role/{role_name}/" in d.caller]


def _fail_on_denials(label: str, decisions: list[Decision], output: str) -> None:
    denied = [decision for decision in decisions if not decision.allowed]
    if denied:
        pytest.fail(
            f"{label}: the task role lacks permissions AWS checks:\n"
            + describe(denied)
            + f"\n--- output (tail)\n{output[-2500:]}",
            pytrace=False,
        )


@pytest.mark.postgres
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_api_and_worker_run_with_their_task_roles(
    environment: str, empty_world: World, database: str, tmp_path: Path
) -> None:
    data = empty_world.stack_of(environment, "stateful")
    for logical_id in data.resources("AWS::SecretsManager::Secret"):
        empty_world.secret_values[(data.name, logical_id)] = database_secret(database)
    empty_world.deploy_environment(environment)
    services = empty_world.stack_of(environment, "stateless")
    local = {"DATABASE_HOST": "127.0.0.1", "DATABASE_SSLMODE": "disable"}

    with (
        empty_world.aws.running(f"services-{environment}") as decisions,
        running_issuer() as issuer,
    ):
        api_env = task_environment(
            empty_world,
            services,
            "api",
            **local,
            API_HOST="127.0.0.1",
            API_PORT="0",
            DATA_DIR=str(tmp_path / "api"),
        )
        # The pool's issuer as the task has it; offline, a loopback issuer stands in for it
        # and signs tokens for the task's own client id (the API validates them as in AWS).
        region = services.region
        assert re.fullmatch(
            rf"https://cognito-idp\.{region}\.amazonaws\.com/{region}_\w+", api_env["AUTH_ISSUER"]
        ), api_env["AUTH_ISSUER"]
        issuer.client_id = api_env["AUTH_CLIENT_ID"].split(",")[0]  # the web app's
        api_env["AUTH_ISSUER"] = issuer.url
        worker_env = task_environment(
            empty_world,
            services,
            "worker",
            **local,
            DATA_DIR=str(tmp_path / "worker"),
            WORKER_HEARTBEAT_FILE=str(tmp_path / "heartbeat"),
            WORKER_WAIT_TIME_SECONDS="1",
        )
        api = ApiProcess(api_env)
        worker: subprocess.Popen[str] | None = None
        try:
            url = str(api.wait_for("Todo API listening on", timeout=60)["url"])
            api.wait_for("Application startup complete", timeout=60)
            site = Site(url, headers=issuer.headers(USER))
            todo = site.request("POST", "/api/todos", {"text": "proof of the task roles"}).json()
            assert (
                site.request("PUT", f"/api/todos/{todo['id']}", {"completed": True}).status == 200
            )
            worker = subprocess.Popen(
                [sys.executable, "-m", "todo_worker"],
                cwd=ROOT,
                env=worker_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            recorded = _wait_for_activity(site, todo["id"], worker)
        finally:
            worker_output = ""
            if worker is not None:
                worker.terminate()
                worker_output = worker.communicate(timeout=30)[0]
            api.proc.terminate()
            api.proc.wait(timeout=30)
    api_decisions = made_by(decisions, task_role_name(empty_world, services, "api"))
    worker_decisions = made_by(decisions, task_role_name(empty_world, services, "worker"))
    api_output = "\n".join(json.dumps(line) for line in api.drain())
    _fail_on_denials(f"services ({environment})", decisions, f"{api_output}\n{worker_output}")
    assert recorded, (
        f"no todo.completed activity within {ACTIVITY_TIMEOUT_SECONDS} s:\n{worker_output[-2500:]}"
    )
    # The calls that needed the role really happened (not a vacuous pass).
    assert {"secretsmanager:GetSecretValue", "sns:Publish"} <= {d.action for d in api_decisions}
    assert {"secretsmanager:GetSecretValue", "sqs:ReceiveMessage", "sqs:DeleteMessage"} <= {
        d.action for d in worker_decisions
    }
    # The secret, the topic and the queue are encrypted with their own keys: AWS checked
    # those too (the event reached the worker through the topic's subscription).
    assert {d.action for d in api_decisions if d.implied_by} == {
        "kms:Decrypt",
        "kms:GenerateDataKey",
    }
    assert {d.action for d in worker_decisions if d.implied_by} == {"kms:Decrypt"}


def _wait_for_activity(site: Site, todo_id: str, worker: subprocess.Popen[str]) -> bool:
    deadline = time.monotonic() + ACTIVITY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            return False
        activity = site.request("GET", "/api/activity?limit=100").json()
        if any(item["todoId"] == todo_id and item["type"] == "todo.completed" for item in activity):
            return True
        time.sleep(0.5)
    return False
