"""The container's real start: each service starts the way Fargate starts it and becomes healthy.

What is started is read from the files AWS uses (ops.images.fargate): the service's Dockerfile
(USER, ENV, WORKDIR, VOLUME, CMD, the files it copies, the lock its venv installs) and the
synthesized task definition of the first environment (environment, read-only root, mounts,
health check). tests/support/fargate_local.py builds that container without Docker; the
stand-ins are those of `make image-start` (ops.images.start_check): a PostgreSQL that accepts
only TLS with a password, whose certificate for an RDS Proxy-like wildcard name chains only
to a throwaway CA added to the operating system's bundle inside the container; the database
secret in Secrets Manager and the event topology in moto (the topic, each consumer's queue
subscribed to it, as make dev builds them from the service registry), reached the AWS way
(DATABASE_SECRET_ARN, EVENTS_TOPIC_ARN, the consumer's QUEUE_URL, the SDK's endpoint pointed
at moto). The services started are the registry's.

Needs root; skips elsewhere unless REQUIRE_CONTAINER_START=1 (CI, .ci/run), which makes the
skip a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from config.model import DEFAULT_CONFIG_FILE
from ops.images.fargate import (
    ImageSpec,
    TaskContainer,
    container_user,
    fargate_mounts,
    read_dockerfile,
    task_container,
    task_environment,
)
from ops.images.start_check import (
    DatabaseStandIn,
    IssuerStandIn,
    check_activity,
    check_api,
    check_health_command,
    issuer_stand_in,
    local_aws_environment,
    new_password,
    proxy_domain,
    seed_local_aws,
    write_tls,
)
from tests.support import fargate_local
from tests.support.assembly import ENVIRONMENTS, Assembly
from todo_devstack.registry import Registry, load_registry
from todo_devstack.sqs import free_port

pytestmark = pytest.mark.container

TIMEOUT = 60.0


def _required() -> bool:
    return os.environ.get("REQUIRE_CONTAINER_START", "") in {"1", "true", "yes"}


# Session scope: checked before the session fixtures it would otherwise wait for (synth).
@pytest.fixture(scope="session", autouse=True)
def _this_machine_can() -> None:
    if reason := fargate_local.unavailable_reason():
        if _required():
            pytest.fail(f"REQUIRE_CONTAINER_START=1 but {reason}", pytrace=False)
        pytest.skip(reason)


@dataclass
class Started:
    image: ImageSpec
    container: TaskContainer
    process: fargate_local.FargateProcess
    port: int | None


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(DEFAULT_CONFIG_FILE)


@pytest.fixture(scope="module")
def containers(assembly: Assembly, registry: Registry) -> dict[str, TaskContainer]:
    environment = ENVIRONMENTS[0]  # what the first deploy starts
    templates = [assembly.template(name) for name in assembly.stack_artifacts(environment)]
    return {service: task_container(templates, service) for service in registry.services}


@pytest.fixture(scope="module")
def database(
    tmp_path_factory: pytest.TempPathFactory, containers: dict[str, TaskContainer]
) -> Iterator[tuple[DatabaseStandIn, Path]]:
    domain = proxy_domain(containers["api"].region)
    tls = write_tls(tmp_path_factory.mktemp("tls"), domain=domain)
    stand_in = DatabaseStandIn(host=f"todo.{domain}", port=free_port(), password=new_password())
    with fargate_local.tls_postgres(tls, stand_in) as running:
        yield running, tls.ca


@pytest.fixture(scope="module")
def issuer() -> Iterator[IssuerStandIn]:
    with issuer_stand_in() as running:
        yield running


@pytest.fixture(scope="module")
def started(
    *,
    tmp_path_factory: pytest.TempPathFactory,
    containers: dict[str, TaskContainer],
    database: tuple[DatabaseStandIn, Path],
    sqs_endpoint: str,
    registry: Registry,
    issuer: IssuerStandIn,
) -> Iterator[dict[str, Started]]:
    stand_in, ca = database
    region = containers["api"].region
    local = seed_local_aws(
        sqs_endpoint,
        region=region,
        database=stand_in,
        name="fargate",
        consumers=registry.consumers(),
    )
    cache = tmp_path_factory.getbasetemp()
    running: dict[str, Started] = {}
    try:
        for service in registry.services:
            image = read_dockerfile(fargate_local.SERVICES_DIR / service / "Dockerfile")
            container = containers[service]
            account = container_user(image, container)
            environment = {
                **image.env,
                "HOME": account.home,  # as the runtime sets it from the image's /etc/passwd
                **task_environment(container, local.stand_ins(container, issuer)),
                **local_aws_environment(sqs_endpoint),
            }
            port = None
            if container.ports:
                # The task's network namespace is its own; here it is the host's, so the
                # service listens on a free port instead of the task definition's.
                port = free_port()
                environment["API_PORT"] = str(port)
            process = fargate_local.start(
                image,
                readonly_root=container.readonly_root,
                mounts=fargate_mounts(image, container),
                venv=fargate_local.service_venv(image, cache),
                environment=environment,
                user=(account.uid, account.gid),
                database_host=stand_in.host,
                ca=ca,
                work=tmp_path_factory.mktemp(f"fargate-{service}"),
            )
            running[service] = Started(image, container, process, port)
        yield running
    finally:
        for started_service in running.values():
            started_service.process.stop()


def test_the_services_start_as_fargate_starts_them_and_become_healthy(
    started: dict[str, Started], issuer: IssuerStandIn
) -> None:
    # One test, so that pytest-xdist starts the database and the services once.
    api, worker = started["api"], started["worker"]
    assert api.port is not None
    base_url = f"http://127.0.0.1:{api.port}"

    # The api: health, readiness (TLS verify-full to the database), no token refused, a todo
    # written and read with one (its key fetched from the issuer).
    todo_id = check_api(base_url, token=issuer.token, timeout=TIMEOUT, alive=api.process.gone)
    # In awsvpc mode the load balancer reaches the task's interface, not its loopback.
    assert fargate_local.listening_on_all_interfaces(api.port)

    # The worker: healthy by the task definition's own health command, within its timeout.
    check_health_command(
        worker.process.exec, worker.container, timeout=TIMEOUT, alive=worker.process.gone
    )

    # Both together: the todo's event goes api -> outbox -> SNS topic -> the worker's
    # subscribed queue -> worker -> database.
    def both_alive() -> str | None:
        return api.process.gone() or worker.process.gone()

    check_activity(base_url, todo_id, token=issuer.token, timeout=TIMEOUT, alive=both_alive)

    for service, running in started.items():
        assert _writes(running) == _expected_writes(running), service


WRITE_PROBE = """\
import os, sys
print(os.getuid(), os.getgid())
for path in sys.argv[1:]:
    try:
        open(os.path.join(path, "probe"), "w").close()
        print(path, "writable")
    except OSError as error:
        print(path, error.strerror)
"""


def _writes(running: Started) -> list[str]:
    """Who the container runs as, and which of its paths that user can write."""
    writable = [mount.path for mount in running.process.mounts if not mount.read_only]
    result = running.process.exec(
        ["python", "-c", WRITE_PROBE, running.image.workdir, "/", *writable]
    )
    return result.stdout.splitlines() or [result.stderr]


def _expected_writes(running: Started) -> list[str]:
    account = container_user(running.image, running.container)
    writable = [mount.path for mount in running.process.mounts if not mount.read_only]
    return [
        f"{account.uid} {account.gid}",
        f"{running.image.workdir} Read-only file system",
        "/ Read-only file system",
        *(f"{path} writable" for path in writable),
    ]
