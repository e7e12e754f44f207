"""What Fargate starts for a service, read from the files AWS uses: the service's Dockerfile
and the synthesized task definition.

Two checks start a service the way Fargate starts it: the local one without Docker
(tests/services/test_container_start.py, a private mount namespace) and `make image-start`
with the real built image (`docker run`). Both take from here the image's user, environment,
working directory and volumes, the task definition's environment, read-only root, mounts and
health check, and how Fargate creates each writable mount, so neither keeps a second
description of the container that could drift from what is deployed.

Fargate's task-level bind mount with no host (a task definition volume with only a name):
an empty directory owned by root with mode 0755, unless the image declares a VOLUME at the
mount's container path; then the image's directory, with its contents and the ownership
the Dockerfile gave it, is copied into the volume.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ops.common import CommandError

# Docker's PATH when an image sets none, and the ENV of the base images we build on
# (docker-library/python's Dockerfile), which the Dockerfile's own ENV expands against.
DOCKER_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BASE_IMAGE_ENV: dict[str, dict[str, str]] = {
    "python": {"PATH": f"/usr/local/bin:{DOCKER_DEFAULT_PATH}", "LANG": "C.UTF-8"},
}
# ECS sets these in every Fargate container (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and the
# metadata URIs too, which the local checks replace with their local AWS).
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-environment-variables.html
FARGATE_EXECUTION_ENV = "AWS_ECS_FARGATE"


class FargateSpecError(CommandError):
    """The Dockerfile or task definition holds something these checks cannot reproduce."""


@dataclass(frozen=True)
class Directory:
    uid: int
    gid: int
    mode: int


# Directories of the base image (Debian's /tmp) that a Dockerfile may change and a volume copy.
BASE_DIRECTORIES = {"/tmp": Directory(uid=0, gid=0, mode=0o1777)}  # noqa: S108 # nosec B108
# A bind mount Fargate creates for a path the image does not declare as a VOLUME.
EMPTY_VOLUME = Directory(uid=0, gid=0, mode=0o755)


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: str


@dataclass
class ImageSpec:
    """The final image as its Dockerfile describes it (build context: the Dockerfile's parent's
    parent, services/)."""

    base: str
    env: dict[str, str]
    user: str = "0:0"
    workdir: str = "/"
    volumes: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    healthcheck: tuple[str, ...] | None = None
    # (build-context source, path in the image) of every file tree the final image holds.
    files: tuple[tuple[str, str], ...] = ()
    venv: str | None = None
    lock: str | None = None  # build-context path of the lock the venv is installed from
    # Image paths byte-compiled at build (python -m compileall): the read-only root and
    # PYTHONDONTWRITEBYTECODE leave no other way to have .pyc files at run time.
    compiled: tuple[str, ...] = ()
    directories: dict[str, Directory] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)

    def account(self, user: str | None = None) -> Account:
        """The passwd entry a ``user[:group]`` resolves to; a bare uid has none (home /,
        as Docker does for a user missing from /etc/passwd)."""
        name_or_uid, _, group = (user or self.user).partition(":")
        for account in self.accounts.values():
            if name_or_uid in {account.name, str(account.uid)}:
                gid = self.gid(group) if group else account.gid
                return Account(account.name, account.uid, gid, account.home)
        if not name_or_uid.isdigit():
            raise FargateSpecError(f"USER {name_or_uid} is not created by the Dockerfile")
        uid = int(name_or_uid)
        return Account(str(uid), uid, self.gid(group) if group else uid, "/")

    def gid(self, group: str) -> int:
        if group.isdigit():
            return int(group)
        if group not in self.groups:
            raise FargateSpecError(f"group {group} is not created by the Dockerfile")
        return self.groups[group]


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    stage: str


def _instructions(text: str) -> Iterator[Instruction]:
    logical = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    stage = ""
    for line in logical.splitlines():
        if not line.strip():
            continue
        keyword, _, args = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            stage = words[2] if len(words) == 3 and words[1].upper() == "AS" else words[0]
        yield Instruction(keyword, args.strip(), stage)


def _exec_form(args: str, where: str) -> tuple[str, ...]:
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        raise FargateSpecError(f"{where}: use the exec (JSON) form, got {args!r}") from None
    return tuple(str(part) for part in value)


def _expand(value: str, env: Mapping[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda match: env.get(match[1], ""), value)


def _env_pairs(args: str, env: Mapping[str, str]) -> dict[str, str]:
    words = shlex.split(args)
    if words and "=" not in words[0]:  # legacy "ENV KEY value"
        return {words[0]: _expand(" ".join(words[1:]), env)}
    pairs: dict[str, str] = {}
    for word in words:
        key, _, value = word.partition("=")
        pairs[key] = _expand(value, {**env, **pairs})
    return pairs


def _commands(script: str) -> Iterator[list[str]]:
    for part in re.split(r"&&|;|\|\|", script):
        words = shlex.split(part)
        if words:
            yield words


def _flag(words: list[str], *names: str) -> str | None:
    for index, word in enumerate(words):
        for name in names:
            if word == name and index + 1 < len(words):
                return words[index + 1]
            if word.startswith(f"{name}="):
                return word.split("=", 1)[1]
    return None


def _owner(spec: str, image: ImageSpec) -> tuple[int, int]:
    account = image.account(spec)
    return account.uid, account.gid


def _paths(words: list[str], flags_with_values: frozenset[str]) -> list[str]:
    paths, skip = [], False
    for word in words[1:]:
        if skip:
            skip = False
        elif word in flags_with_values:
            skip = True
        elif not word.startswith("-"):
            paths.append(word)
    return paths


def _apply_runtime_run(words: list[str], image: ImageSpec) -> None:
    """The RUN effects the checks reproduce: accounts and the directories' owner and mode."""
    command, dirs = words[0], image.directories
    if command == "groupadd":
        image.groups[words[-1]] = int(_flag(words, "--gid", "-g") or 0)
    elif command == "useradd":
        name = words[-1]
        gid = image.gid(_flag(words, "--gid", "-g") or name)
        uid = int(_flag(words, "--uid", "-u") or 0)
        home = _flag(words, "--home-dir", "-d") or f"/home/{name}"
        image.accounts[name] = Account(name, uid, gid, home)
    elif command == "mkdir":
        for path in _paths(words, frozenset({"-m", "--mode"})):
            dirs.setdefault(path, Directory(0, 0, int(_flag(words, "-m", "--mode") or "755", 8)))
    elif command == "chown":
        owner, *paths = _paths(words, frozenset())
        uid, gid = _owner(owner, image)
        for path in paths:
            old = dirs.get(path, BASE_DIRECTORIES.get(path, EMPTY_VOLUME))
            dirs[path] = Directory(uid, gid, old.mode)
    elif command == "chmod":
        mode, *paths = _paths(words, frozenset())
        for path in paths:
            old = dirs.get(path, BASE_DIRECTORIES.get(path, EMPTY_VOLUME))
            dirs[path] = Directory(old.uid, old.gid, int(mode, 8))


def read_dockerfile(path: Path) -> ImageSpec:
    """The final stage of ``path`` (multi-stage: ``COPY --from`` follows the build stage)."""
    instructions = list(_instructions(path.read_text(encoding="utf-8")))
    final = instructions[-1].stage if instructions else ""
    stage_files: dict[str, list[tuple[str, str]]] = {}
    venvs: dict[str, tuple[str, str]] = {}
    image = ImageSpec(base="", env={})
    for ins in instructions:
        files = stage_files.setdefault(ins.stage, [])
        if ins.keyword == "FROM":
            reference = ins.args.split()[0]
            repository = reference.split("@")[0].rsplit(":", 1)[0].rsplit("/", 1)[-1]
            if ins.stage == final:
                image.base = reference
                image.env = dict(BASE_IMAGE_ENV.get(repository, {"PATH": DOCKER_DEFAULT_PATH}))
        elif ins.keyword == "COPY":
            _copy(ins, files=files, stage_files=stage_files, venvs=venvs, image=image, final=final)
        elif ins.keyword == "RUN" and ins.stage != final:
            if compiled := re.search(r"-m compileall ((?:\S+ ?)+)", ins.args):
                image.compiled += tuple(w for w in compiled[1].split() if w.startswith("/"))
            venv = re.search(r"-m venv (\S+)", ins.args)
            lock = re.search(r"-r (\S+)", ins.args)
            if venv and lock:
                source = {dest: src for src, dest in files}.get(lock[1])
                if source is None:
                    raise FargateSpecError(f"{path}: the venv's lock {lock[1]} is not copied in")
                venvs[ins.stage] = (venv[1], source)
        elif ins.stage == final:
            _runtime_instruction(ins, image, path)
    image.files = tuple(stage_files.get(final, []))
    return image


def _copy(
    ins: Instruction,
    *,
    files: list[tuple[str, str]],
    stage_files: Mapping[str, list[tuple[str, str]]],
    venvs: Mapping[str, tuple[str, str]],
    image: ImageSpec,
    final: str,
) -> None:
    words = ins.args.split()
    source_stage = _flag(words, "--from")
    *sources, dest = [word for word in words if not word.startswith("--")]
    if source_stage is None:
        files += [(source, dest) for source in sources]
        return
    for source in sources:
        venv = venvs.get(source_stage)
        if venv and venv[0] == source and ins.stage == final:
            image.venv, image.lock = dest, venv[1]
            continue
        files += [
            (src, dest + inner[len(source) :])
            for src, inner in stage_files.get(source_stage, [])
            if inner == source or inner.startswith(source.rstrip("/") + "/")
        ]


def _runtime_instruction(ins: Instruction, image: ImageSpec, path: Path) -> None:
    if ins.keyword == "ENV":
        image.env.update(_env_pairs(ins.args, image.env))
    elif ins.keyword == "USER":
        image.user = ins.args
    elif ins.keyword == "WORKDIR":
        image.workdir = str(PurePosixPath(image.workdir, ins.args))
    elif ins.keyword == "VOLUME":
        declared = json.loads(ins.args) if ins.args.startswith("[") else ins.args.split()
        image.volumes += tuple(declared)
    elif ins.keyword == "CMD":
        image.cmd = _exec_form(ins.args, f"{path}: CMD")
    elif ins.keyword == "HEALTHCHECK":
        _, _, command = ins.args.partition("CMD ")
        image.healthcheck = _exec_form(command, f"{path}: HEALTHCHECK") if command else None
    elif ins.keyword == "RUN":
        for words in _commands(ins.args):
            _apply_runtime_run(words, image)


# ------------------------------------------------------------------ task definition


@dataclass(frozen=True)
class MountPoint:
    container_path: str
    volume: str
    read_only: bool


@dataclass(frozen=True)
class TaskContainer:
    """One container definition of a synthesized AWS::ECS::TaskDefinition."""

    name: str
    # Values resolved only at deploy time (Fn::GetStackOutput, Ref...) are None.
    environment: dict[str, str | None]
    readonly_root: bool
    mounts: tuple[MountPoint, ...]
    volumes: dict[str, dict[str, Any]]
    user: str | None
    health_command: tuple[str, ...] | None
    health_timeout: int | None
    ports: tuple[int, ...]
    region: str


def task_container(templates: Iterable[Mapping[str, Any]], name: str) -> TaskContainer:
    """The container ``name`` of the one task definition in ``templates`` that runs it."""
    found = [
        (resource["Properties"], container)
        for template in templates
        for resource in template.get("Resources", {}).values()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
        for container in resource["Properties"]["ContainerDefinitions"]
        if container["Name"] == name
    ]
    if len(found) != 1:
        raise FargateSpecError(f"{len(found)} task definitions run a container named {name!r}")
    task, container = found[0]
    health = container.get("HealthCheck")
    command = tuple(health["Command"]) if health else None
    if command and command[0] != "CMD":
        raise FargateSpecError(f"{name}: health check {command!r} is not in the CMD form")
    region = container["LogConfiguration"]["Options"]["awslogs-region"]
    return TaskContainer(
        name=name,
        environment={
            item["Name"]: item["Value"] if isinstance(item["Value"], str) else None
            for item in container.get("Environment", [])
        },
        readonly_root=bool(container.get("ReadonlyRootFilesystem", False)),
        mounts=tuple(
            MountPoint(m["ContainerPath"], m["SourceVolume"], bool(m.get("ReadOnly", False)))
            for m in container.get("MountPoints", [])
        ),
        volumes={volume["Name"]: volume for volume in task.get("Volumes", [])},
        user=container.get("User"),
        health_command=command[1:] if command else None,
        health_timeout=int(health.get("Timeout", 5)) if health else None,
        ports=tuple(int(p["ContainerPort"]) for p in container.get("PortMappings", [])),
        region=str(region),
    )


@dataclass(frozen=True)
class Mount:
    """A writable or read-only mount as Fargate creates it at task start."""

    path: str
    read_only: bool
    directory: Directory
    # The image declares a VOLUME here: its directory's contents are copied into the volume.
    from_image: bool


def fargate_mounts(image: ImageSpec, container: TaskContainer) -> list[Mount]:
    mounts = []
    for mount in container.mounts:
        volume = container.volumes.get(mount.volume)
        if volume is None:
            raise FargateSpecError(f"{container.name}: mount of unknown volume {mount.volume!r}")
        if set(volume) != {"Name"}:
            raise FargateSpecError(
                f"{container.name}: volume {mount.volume!r} is not a task-level bind mount "
                f"({sorted(set(volume) - {'Name'})}); not reproduced"
            )
        declared = mount.container_path in image.volumes
        directory = (
            image.directories.get(
                mount.container_path,
                BASE_DIRECTORIES.get(mount.container_path, EMPTY_VOLUME),
            )
            if declared
            else EMPTY_VOLUME
        )
        mounts.append(Mount(mount.container_path, mount.read_only, directory, declared))
    return mounts


def task_environment(
    container: TaskContainer, stand_ins: Mapping[str, str], *, region: str | None = None
) -> dict[str, str]:
    """The task definition's environment with its deploy-time values replaced by the local
    ``stand_ins``, plus what ECS itself sets in a Fargate container (not the image's ENV)."""
    unresolved = {key for key, value in container.environment.items() if value is None}
    if missing := sorted(unresolved - set(stand_ins)):
        raise FargateSpecError(f"{container.name}: no local stand-in for {', '.join(missing)}")
    if extra := sorted(set(stand_ins) - unresolved):
        raise FargateSpecError(f"{container.name}: the task does not set {', '.join(extra)}")
    environment = {key: value for key, value in container.environment.items() if value}
    region = region or container.region
    return {
        **environment,
        **stand_ins,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": FARGATE_EXECUTION_ENV,
    }


def container_user(image: ImageSpec, container: TaskContainer) -> Account:
    """The user the container runs as: the task definition's ``user``, else the image's USER."""
    return image.account(container.user)
