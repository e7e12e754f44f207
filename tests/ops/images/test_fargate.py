"""What Fargate starts, read from the Dockerfiles and the synthesized task definitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.paths import ROOT
from ops.images.fargate import (
    EMPTY_VOLUME,
    Directory,
    FargateSpecError,
    ImageSpec,
    MountPoint,
    TaskContainer,
    container_user,
    fargate_mounts,
    read_dockerfile,
    task_container,
    task_environment,
)
from tests.support.assembly import ENVIRONMENTS, Assembly, resources

SERVICES = ("api", "worker")


def _image(service: str) -> ImageSpec:
    return read_dockerfile(ROOT / "services" / service / "Dockerfile")


def _containers(assembly: Assembly, environment: str) -> dict[str, TaskContainer]:
    templates = [assembly.template(name) for name in assembly.stack_artifacts(environment)]
    return {service: task_container(templates, service) for service in SERVICES}


def _writable_by(directory: Directory, uid: int, gid: int) -> bool:
    if directory.uid == uid:
        return bool(directory.mode & 0o200)
    if directory.gid == gid:
        return bool(directory.mode & 0o020)
    return bool(directory.mode & 0o002)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_writable_mount_is_writable_by_the_containers_user(
    assembly: Assembly, environment: str
) -> None:
    for service, container in _containers(assembly, environment).items():
        image = _image(service)
        user = container_user(image, container)
        assert user.uid != 0, f"{service} runs as root"
        writable = [mount for mount in fargate_mounts(image, container) if not mount.read_only]
        assert writable, f"{service}: no writable mount on a read-only root"
        for mount in writable:
            assert _writable_by(mount.directory, user.uid, user.gid), (
                f"{environment} {service}: Fargate creates {mount.path} as {mount.directory}, "
                f"which uid {user.uid} cannot write"
            )


def test_the_heartbeat_and_the_health_check_live_where_the_task_can_write(
    assembly: Assembly,
) -> None:
    worker = _containers(assembly, ENVIRONMENTS[0])["worker"]
    image = _image("worker")
    heartbeat = Path(image.env["WORKER_HEARTBEAT_FILE"])
    writable = {mount.path for mount in fargate_mounts(image, worker) if not mount.read_only}
    assert str(heartbeat.parent) in writable
    # ECS runs the task definition's check, not the image's HEALTHCHECK: they must agree.
    assert worker.health_command == image.healthcheck


def test_the_api_listens_where_its_target_group_and_health_check_reach_it(
    assembly: Assembly,
) -> None:
    api = _containers(assembly, ENVIRONMENTS[0])["api"]
    image = _image("api")
    # Blue and green: the same port and check, whichever serves the release.
    target_group, green = [
        group["Properties"]
        for name in assembly.stack_artifacts(ENVIRONMENTS[0])
        for group in resources(
            assembly.template(name), "AWS::ElasticLoadBalancingV2::TargetGroup"
        ).values()
    ]
    assert (green["Port"], green.get("HealthCheckPort")) == (
        target_group["Port"],
        target_group.get("HealthCheckPort"),
    )
    environment = {**image.env, **{k: v for k, v in api.environment.items() if v}}
    assert api.ports == (int(environment["API_PORT"]),) == (target_group["Port"],)
    assert target_group.get("HealthCheckPort", "traffic-port") == "traffic-port"
    # awsvpc: the load balancer connects to the task's interface, not its loopback.
    assert environment["API_HOST"] == "0.0.0.0"  # noqa: S104 - the container's own interface


DOCKERFILE = """\
FROM public.ecr.aws/docker/library/python:3.11-slim@sha256:{digest} AS build
COPY app/requirements.lock /tmp/requirements.lock
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -r /tmp/requirements.lock
COPY app/code /app/code

FROM public.ecr.aws/docker/library/python:3.11-slim@sha256:{digest}
RUN groupadd --system --gid 2000 app \\
    && useradd --system --uid 2000 --gid app --no-create-home app{chown}
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH
USER app
{volume}
CMD ["python", "-m", "code"]
""".replace("{digest}", "0" * 64)


TMP = MountPoint("/tmp", "tmp", read_only=False)  # noqa: S108 # nosec B108


def _container(*, volume: dict[str, object] | None = None) -> TaskContainer:
    return TaskContainer(
        name="app",
        environment={"STATIC": "x", "DEPLOYED": None},
        readonly_root=True,
        mounts=(TMP,),
        volumes={"tmp": volume or {"Name": "tmp"}},
        user=None,
        health_command=None,
        health_timeout=None,
        ports=(),
        region="eu-west-1",
    )


def _mount(tmp_path: Path, *, chown: str = "", volume: str = "") -> Directory:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE.format(chown=chown, volume=volume))
    (mount,) = fargate_mounts(read_dockerfile(dockerfile), _container())
    return mount.directory


def test_fargate_gives_a_root_owned_0755_volume_where_the_image_declares_none(
    tmp_path: Path,
) -> None:
    assert _mount(tmp_path, chown=" && chown app:app /tmp") == EMPTY_VOLUME


def test_a_declared_volume_starts_as_the_images_directory(tmp_path: Path) -> None:
    assert _mount(tmp_path, volume='VOLUME ["/tmp"]') == Directory(0, 0, 0o1777)
    assert _mount(tmp_path, chown=" && chown app:app /tmp", volume="VOLUME /tmp") == Directory(
        2000, 2000, 0o1777
    )


def test_the_dockerfile_is_read_as_the_image_is_built(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE.format(chown="", volume=""))
    image = read_dockerfile(dockerfile)
    assert image.files == (("app/code", "/app/code"),)
    assert (image.venv, image.lock) == ("/opt/venv", "app/requirements.lock")
    assert image.env["PATH"].startswith("/opt/venv/bin:/usr/local/bin:")
    assert (image.workdir, image.cmd) == ("/app", ("python", "-m", "code"))
    assert image.account() == image.account("2000:2000")
    assert (image.account().uid, image.account().home) == (2000, "/home/app")


def test_other_volume_kinds_are_refused_not_imitated(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE.format(chown="", volume=""))
    container = _container(volume={"Name": "tmp", "EFSVolumeConfiguration": {}})
    with pytest.raises(FargateSpecError, match="not a task-level bind mount"):
        fargate_mounts(read_dockerfile(dockerfile), container)


def test_every_deploy_time_value_needs_exactly_one_local_stand_in() -> None:
    container = _container()
    environment = task_environment(container, {"DEPLOYED": "local"})
    assert environment["DEPLOYED"] == "local"
    assert environment["AWS_REGION"] == environment["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert environment["AWS_EXECUTION_ENV"] == "AWS_ECS_FARGATE"
    with pytest.raises(FargateSpecError, match="no local stand-in for DEPLOYED"):
        task_environment(container, {})
    with pytest.raises(FargateSpecError, match="the task does not set STALE"):
        task_environment(container, {"DEPLOYED": "local", "STALE": "x"})
