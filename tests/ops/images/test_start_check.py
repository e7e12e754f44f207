"""`make image-start`, offline: the docker commands it builds from the synthesized task
definitions, its TLS material and its waiting (the docker run itself needs a Docker engine)."""

from __future__ import annotations

import os
import ssl
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from config.model import DEFAULT_CONFIG_FILE
from config.paths import ROOT
from ops.images.fargate import (
    ImageSpec,
    TaskContainer,
    read_dockerfile,
    task_container,
    task_environment,
)
from ops.images.start_check import (
    PG_HBA,
    POSTGRES_IMAGE,
    SYSTEM_BUNDLE,
    DatabaseStandIn,
    IssuerStandIn,
    LocalAws,
    StartCheckError,
    check_health_command,
    docker_run_argv,
    postgres_argv,
    proxy_domain,
    trusting_bundle,
    wait_until,
    write_tls,
)
from policies.images import image_problem
from tests.support.assembly import ENVIRONMENTS, Assembly

LOCAL_AWS = LocalAws(
    secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf",
    database_host="todo.proxy-startcheck.eu-west-1.rds.amazonaws.com",
    topic_arn="arn:aws:sns:eu-west-1:123456789012:x-events",
    queues={"worker": "http://127.0.0.1:5000/123456789012/x-worker"},
)
ISSUER = IssuerStandIn(url="http://127.0.0.1:5001", client_id="startcheckclient", token="t")


def _container(name: str, unresolved: list[str]) -> TaskContainer:
    return TaskContainer(
        name=name,
        environment={"SERVICE_NAME": f"todo-{name}", **dict.fromkeys(unresolved)},
        readonly_root=True,
        mounts=(),
        volumes={},
        user=None,
        health_command=None,
        health_timeout=None,
        ports=(),
        region="eu-west-1",
    )


def test_each_task_gets_stand_ins_for_exactly_the_deploy_time_values_it_has() -> None:
    api = _container(
        "api",
        [
            "DATABASE_SECRET_ARN",
            "DATABASE_HOST",
            "EVENTS_TOPIC_ARN",
            "AUTH_ISSUER",
            "AUTH_CLIENT_ID",
        ],
    )
    assert LOCAL_AWS.stand_ins(api, ISSUER) == {
        "DATABASE_SECRET_ARN": LOCAL_AWS.secret_arn,
        "DATABASE_HOST": LOCAL_AWS.database_host,
        "EVENTS_TOPIC_ARN": LOCAL_AWS.topic_arn,
        # Cognito's place: the local issuer whose keys the api fetches.
        "AUTH_ISSUER": ISSUER.url,
        "AUTH_CLIENT_ID": ISSUER.client_id,
    }
    # A consumer reads its own queue, the one subscribed to the topic.
    worker = _container("worker", ["QUEUE_URL"])
    assert LOCAL_AWS.stand_ins(worker, ISSUER) == {"QUEUE_URL": LOCAL_AWS.queues["worker"]}
    assert LOCAL_AWS.stand_ins(_container("static", []), ISSUER) == {}


def _service(assembly: Assembly, service: str) -> tuple[ImageSpec, TaskContainer]:
    templates = [assembly.template(name) for name in assembly.stack_artifacts(ENVIRONMENTS[0])]
    return (
        read_dockerfile(ROOT / "services" / service / "Dockerfile"),
        task_container(templates, service),
    )


def _options(argv: list[str], flag: str) -> list[str]:
    return [argv[index + 1] for index, word in enumerate(argv[:-1]) if word == flag]


@pytest.mark.parametrize("service", ["api", "worker"])
def test_docker_runs_the_task_definitions_container(assembly: Assembly, service: str) -> None:
    image, container = _service(assembly, service)
    environment = task_environment(container, LOCAL_AWS.stand_ins(container, ISSUER))
    bundle, hosts = Path("/w/bundle.crt"), Path("/w/hosts")
    argv = docker_run_argv(
        image_ref=f"local/{service}:pr",
        name=f"check-{service}",
        image=image,
        container=container,
        environment=environment,
        binds=[(bundle, SYSTEM_BUNDLE), (hosts, "/etc/hosts")],
    )
    assert argv[:2] == ["docker", "run"]
    assert argv[-1] == f"local/{service}:pr"
    assert _options(argv, "--user") == ["10001:10001"]
    assert "--read-only" in argv
    assert _options(argv, "--mount") == [
        # /tmp is a VOLUME of the image: a volume that starts as the image's directory.
        "type=volume,dst=/tmp",
        f"type=bind,src={bundle},dst={SYSTEM_BUNDLE},readonly",
        f"type=bind,src={hosts},dst=/etc/hosts,readonly",
    ]
    passed = dict(item.split("=", 1) for item in _options(argv, "--env"))
    assert passed == environment
    assert passed["DATABASE_SSLMODE"] == "verify-full"
    # The image's own ENV comes from the image, not from the command line.
    assert not set(passed) & {"PATH", "PYTHONPATH", "WORKER_HEARTBEAT_FILE", "API_HOST"}


def test_a_path_the_image_does_not_declare_gets_fargates_empty_root_owned_mount(
    assembly: Assembly,
) -> None:
    image, container = _service(assembly, "worker")
    image.volumes = ()
    argv = docker_run_argv(
        image_ref="x", name="x", image=image, container=container, environment={}
    )
    assert _options(argv, "--mount") == ["type=tmpfs,dst=/tmp,tmpfs-mode=755"]


def test_the_database_container_takes_only_tls_with_a_password(tmp_path: Path) -> None:
    database = DatabaseStandIn(host="todo.x", port=6543, password="pw")
    argv = postgres_argv(name="db", tls_dir=tmp_path, database=database)
    assert argv[argv.index("--entrypoint") + 2] == POSTGRES_IMAGE
    assert image_problem(POSTGRES_IMAGE) is None
    assert "PGPORT=6543" in _options(argv, "--env")
    script = argv[-1]
    assert "-c ssl=on" in script
    assert "-c hba_file=/var/lib/postgresql/pg_hba.conf" in script
    assert "-c port=6543" in script
    tcp = [line for line in PG_HBA.splitlines() if not line.startswith("local")]
    assert tcp == ["hostssl all all 127.0.0.1/32 scram-sha-256"]


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext, host: str) -> None:
    """A TLS handshake in memory between the two contexts."""
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_end = server.wrap_bio(to_server, to_client, server_side=True)
    client_end = client.wrap_bio(to_client, to_server, server_hostname=host)
    for _ in range(10):
        done = 0
        for end in (client_end, server_end):
            try:
                end.do_handshake()
                done += 1
            except ssl.SSLWantReadError:
                pass
        if done == 2:
            return
    raise AssertionError("handshake did not finish")


def test_the_throwaway_certificate_is_trusted_only_with_its_ca_and_for_the_proxy_names(
    tmp_path: Path,
) -> None:
    domain = proxy_domain("eu-west-1")
    tls = write_tls(tmp_path, domain=domain)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tls.certificate, tls.key)
    bundle = tmp_path / "bundle.crt"
    bundle.write_text(trusting_bundle(Path(SYSTEM_BUNDLE).read_text(), tls.ca))
    trusting = ssl.create_default_context(cafile=str(bundle))
    _handshake(server, trusting, f"todo.{domain}")
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        _handshake(server, trusting, f"todo.cluster-x.{domain.split('.', 1)[1]}")
    system_only = ssl.create_default_context(cafile=SYSTEM_BUNDLE)
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        _handshake(server, system_only, f"todo.{domain}")


def test_a_service_that_exits_ends_the_wait_at_once_with_why() -> None:
    with pytest.raises(StartCheckError, match=r"exited 1 \(last probe: not tried\)"):
        wait_until(lambda: "not yet", timeout=30, alive=lambda: "exited 1")
    with pytest.raises(StartCheckError, match="not healthy within 1 s: not yet"):
        wait_until(lambda: "not yet", timeout=1, alive=lambda: None)


def test_a_health_command_slower_than_the_task_timeout_is_unhealthy(
    assembly: Assembly, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, worker = _service(assembly, "worker")
    assert worker.health_timeout == 5
    clock = iter(range(0, 1000, 6))  # every reading 6 s after the previous one
    monkeypatch.setattr("ops.images.start_check.time.monotonic", lambda: float(next(clock)))

    def passes(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(command, 0, "", "")

    with pytest.raises(StartCheckError, match=r"exit 0 in 6\.0 s"):
        check_health_command(passes, worker, timeout=30, alive=lambda: None)


FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "$DOCKER_LOG"
if [ "$1" = run ]; then echo "Unable to find image: pull access denied" >&2; exit 125; fi
exit 0
"""


def test_a_failed_start_is_one_line_and_leaves_no_container_behind(
    assembly: Assembly,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ops.images.start_check import main  # noqa: PLC0415

    docker = tmp_path / "bin" / "docker"
    docker.parent.mkdir()
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{docker.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_LOG", str(tmp_path / "docker.log"))
    monkeypatch.setenv("DELIVERY_CONFIG", str(DEFAULT_CONFIG_FILE))
    code = main(
        ["--service", "worker", "--image", "local/worker:pr", "--assembly", str(assembly.root)]
    )
    assert code == 1
    (error,) = [line for line in capsys.readouterr().err.splitlines() if "start check" in line]
    assert error.startswith(
        "start check: worker: docker run --detach --name start-check-worker-db "
    )
    assert error.endswith(": Unable to find image: pull access denied")
    calls = (tmp_path / "docker.log").read_text().splitlines()
    removals = [c for c in calls if c.startswith("rm ")]
    # Before (leftovers of an interrupted run) and after.
    assert removals == 2 * [
        "rm --force --volumes start-check-worker-db",
        "rm --force --volumes start-check-worker",
    ]
    assert calls.index(removals[0]) < calls.index(next(c for c in calls if c.startswith("run")))


def test_a_service_outside_the_registry_is_one_line(
    assembly: Assembly,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ops.images.start_check import main  # noqa: PLC0415

    monkeypatch.setenv("DELIVERY_CONFIG", str(DEFAULT_CONFIG_FILE))
    code = main(["--service", "mailer", "--image", "x", "--assembly", str(assembly.root)])
    assert code == 1
    assert capsys.readouterr().err.strip() == (
        "start check: mailer: not in the service registry (it has api, worker)"
    )
