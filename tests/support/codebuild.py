"""Run a pipeline step as CodeBuild runs it, against the local AWS, with the step's own role.

A step is found in the synthesized pipeline by its action name (``ChangeReport-prod``...):
the action names the CodeBuild project, the project names its service role and its buildspec.
The role is created in the local AWS with exactly the policies the template attaches to it and
assumed as CodeBuild would; the buildspec's install and build commands run in a copy of the
source (what the Source action hands over: the tracked files, no .git), with cdk.out as the
secondary input, the project's and the action's environment variables (CodePipeline variables
substituted) and the variables CodeBuild itself sets.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from config.paths import ROOT
from tests.support.aws_world import World
from tests.support.cfn import StackInfo
from tests.support.local_aws import Decision, describe

FAKE_DOCKER = Path(__file__).resolve().parent / "fake_docker.py"
EXECUTION_ID = "00000000-1111-4222-8333-444444444444"


@dataclass(frozen=True)
class PipelineStep:
    name: str
    stage: str
    project_id: str
    role_id: str
    buildspec: dict[str, Any]
    project_environment: list[dict[str, Any]]
    action_environment: Any  # a JSON string, or an intrinsic that resolves to one


def pipeline_steps(pipeline: StackInfo) -> dict[str, PipelineStep]:
    """Every CodeBuild action of the pipeline, by action name."""
    (pipeline_resource,) = pipeline.resources("AWS::CodePipeline::Pipeline").values()
    steps = {}
    for stage in pipeline_resource["Properties"]["Stages"]:
        for action in stage["Actions"]:
            if action["ActionTypeId"]["Provider"] != "CodeBuild":
                continue
            project_id = action["Configuration"]["ProjectName"]["Ref"]
            project = pipeline.resource(project_id)["Properties"]
            steps[action["Name"]] = PipelineStep(
                name=action["Name"],
                stage=stage["Name"],
                project_id=project_id,
                role_id=project["ServiceRole"]["Fn::GetAtt"][0],
                buildspec=_buildspec(project["Source"].get("BuildSpec")),
                project_environment=project["Environment"].get("EnvironmentVariables", []),
                action_environment=action["Configuration"].get("EnvironmentVariables", "[]"),
            )
    return steps


def _buildspec(value: Any) -> dict[str, Any]:
    """An inline buildspec (JSON, as CDK Pipelines writes it); {} for a file reference."""
    if not isinstance(value, str):
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return {}
    return dict(parsed) if isinstance(parsed, dict) else {}


def namespaces(pipeline: StackInfo) -> set[str]:
    (pipeline_resource,) = pipeline.resources("AWS::CodePipeline::Pipeline").values()
    return {
        action["Namespace"]
        for stage in pipeline_resource["Properties"]["Stages"]
        for action in stage["Actions"]
        if "Namespace" in action
    }


@dataclass
class StepResult:
    step: str
    returncode: int
    stdout: str
    stderr: str
    environment: dict[str, str]
    decisions: list[Decision] = field(default_factory=list)
    workdir: Path | None = None

    @property
    def denied(self) -> list[Decision]:
        return [decision for decision in self.decisions if not decision.allowed]

    def explain(self) -> str:
        lines = [f"{self.step} exited {self.returncode}", describe(self.decisions)]
        lines += [
            "--- stdout (tail)",
            self.stdout[-1500:],
            "--- stderr (tail)",
            self.stderr[-2500:],
        ]
        return "\n".join(lines)


# The files that tell make the toolchains `make install` puts in place are up to date.
_INSTALLED = (
    ".venv/.installed",
    ".venv-tools/.installed",
    ".venv-bootstrap/bin/uv",
    "node_modules/.installed",
    "services/web/node_modules/.installed",
)


def source_copy(destination: Path, source: Path) -> Path:
    """A step's own working directory: the Source artifact's top-level entries, linked (the
    artifact already holds what the install phase adds: toolchains, the web build). Whatever
    an earlier step left in ``destination`` goes first: every build starts from the artifact."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    for entry in sorted(source.iterdir()):
        (destination / entry.name).symlink_to(entry)
    return destination


_step_home: Path | None = None
_held_locks: list[FileLock] = []


def step_home() -> Path:
    """Where this test process runs its steps, one after another: the same path every time.

    Python finds a module's cached bytecode by the module's path, so a new directory per step
    compiled boto3, pytest and the project again in every command of every step (about 20 s of
    a Verify step: time, not behaviour). One directory per xdist worker in the checkout's build/
    keeps the cache warm across steps and runs (`make clean` removes it). A second session of
    the same checkout that finds it locked takes a directory of its own, removed at exit.
    A step's source is only valid until the next step: StepResult.workdir is read at once.
    """
    global _step_home  # noqa: PLW0603 - one per process, chosen at its first step
    if _step_home is None:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        home = ROOT / "build" / "codebuild-steps" / worker
        home.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(home / ".lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            home = Path(tempfile.mkdtemp(prefix=f"codebuild-steps-{worker}-"))
            atexit.register(shutil.rmtree, home, ignore_errors=True)
        else:
            _held_locks.append(lock)
        _step_home = home
    return _step_home


def _shims(directory: Path) -> Path:
    """`make` that takes the installed toolchains as up to date (installing them is the step's
    install phase, with the network; here they are the checkout's, never rebuilt), and
    `docker`: a recorder that pushes through the ECR API."""
    directory.mkdir(parents=True, exist_ok=True)
    make = directory / "make"
    old_files = " ".join(f"-o {marker}" for marker in _INSTALLED)
    # The checkout's bytecode cache, not a cold one in each step's copy: compiling boto3 and
    # botocore again in every command of every step is time, not behaviour.
    cache = f"PYTHONPYCACHEPREFIX={ROOT / 'build' / 'pycache'}"
    make.write_text(f'#!/bin/sh\nexec /usr/bin/make {old_files} {cache} "$@"\n', encoding="utf-8")
    docker = directory / "docker"
    docker.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE_DOCKER} "$@"\n', encoding="utf-8")
    for shim in (make, docker):
        shim.chmod(0o755)
    return directory


_VARIABLE = re.compile(r"#\{([A-Za-z0-9_-]+)\.([A-Za-z0-9_@-]+)\}")


def substitute(value: str, *, known: set[str], outputs: Mapping[str, str]) -> str:
    """CodePipeline variables: #{codepipeline.PipelineExecutionId}, #{<namespace>.<output>}."""

    def one(match: re.Match[str]) -> str:
        namespace, name = match[1], match[2]
        if namespace == "codepipeline" and name == "PipelineExecutionId":
            return EXECUTION_ID
        if namespace in known and name in outputs:
            return outputs[name]
        raise KeyError(f"pipeline variable #{{{namespace}.{name}}} has no value in this run")

    return _VARIABLE.sub(one, value)


class StepRunner:
    def __init__(self, world: World, tmp: Path) -> None:
        self.world = world
        self.tmp = tmp
        self.steps = pipeline_steps(world.pipeline)

    def environment(self, step: PipelineStep, *, outputs: Mapping[str, str]) -> dict[str, str]:
        pipeline = self.world.pipeline
        known = namespaces(pipeline)
        variables = {
            item["Name"]: str(self.world.resolve(pipeline, item["Value"]))
            for item in step.project_environment
        }
        action = self.world.resolve(pipeline, step.action_environment)
        for item in json.loads(action):
            variables[item["name"]] = str(item["value"])
        variables.update(
            {
                str(key): str(value)
                for key, value in step.buildspec.get("env", {}).get("variables", {}).items()
            }
        )
        return {
            name: substitute(value, known=known, outputs=outputs)
            for name, value in variables.items()
        }

    def run(
        self,
        name: str,
        *,
        outputs: Mapping[str, str] | None = None,
        overrides: Mapping[str, str] | None = None,
        timeout: float = 600,
    ) -> StepResult:
        """Run step ``name``; ``overrides`` only for what cannot run here as in AWS."""
        step = self.steps[name]
        pipeline = self.world.pipeline
        role_arn = self.world.role(pipeline, step.role_id)
        credentials = self.world.aws.assume_as_service(
            role_arn,
            session_name=f"AWSCodeBuild-{uuid.uuid4()}",
            service="codebuild.amazonaws.com",
            region=pipeline.region,
        )
        workdir = source_copy(step_home() / "src", self.world.source)
        scratch = self.tmp / f"{name}-{uuid.uuid4().hex[:8]}"
        shims = _shims(scratch / "bin")
        step_variables = self.environment(step, outputs=outputs or {})
        project = self.world.resolve(pipeline, {"Ref": step.project_id})
        pipeline_name = self.world.resolve(pipeline, _pipeline_name(pipeline))
        secondary = {
            f"CODEBUILD_SRC_DIR_{artifact}": str(self.world.assembly)
            for artifact in re.findall(r"\$CODEBUILD_SRC_DIR_(\w+)", json.dumps(step.buildspec))
        }
        environment = {
            "PATH": f"{shims}:{os.environ['PATH']}",
            "HOME": str(scratch),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            # What CodeBuild sets in every build.
            "CODEBUILD_BUILD_ID": f"{project}:{uuid.uuid4()}",
            "CODEBUILD_SRC_DIR": str(workdir),
            "CODEBUILD_RESOLVED_SOURCE_VERSION": _head_commit(),
            "CODEBUILD_INITIATOR": f"codepipeline/{pipeline_name}",
            "AWS_REGION": pipeline.region,
            "AWS_DEFAULT_REGION": pipeline.region,
            **secondary,
            # The local AWS, and the role CodeBuild hands the build.
            "AWS_ENDPOINT_URL": self.world.aws.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
            "FAKE_DOCKER_LOG": str(scratch / "docker.jsonl"),
            # The registry's own identity, for what ECR does after a push (scan on push).
            **_registry_identity(self.world.aws.admin_credentials(pipeline.account)),
            **credentials,
            **step_variables,
            **(overrides or {}),
        }
        phases = step.buildspec.get("phases", {})
        commands = [
            *phases.get("install", {}).get("commands", []),
            *phases.get("build", {}).get("commands", []),
        ]
        script = "set -e\n" + "\n".join(commands) + "\n"
        with self.world.aws.running(name) as decisions:
            completed = subprocess.run(
                ["bash", "-c", script],
                cwd=workdir,
                env=environment,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        return StepResult(
            step=name,
            returncode=completed.returncode,
            stdout=completed.stdout,
            stderr=completed.stderr,
            environment=environment,
            decisions=decisions,
            workdir=workdir,
        )

    def docker_calls(self, result: StepResult) -> list[list[str]]:
        log = Path(result.environment["FAKE_DOCKER_LOG"])
        if not log.exists():
            return []
        return [json.loads(line)["argv"] for line in log.read_text(encoding="utf-8").splitlines()]


def _registry_identity(credentials: Mapping[str, str]) -> dict[str, str]:
    return {
        "FAKE_REGISTRY_ACCESS_KEY_ID": credentials["aws_access_key_id"],
        "FAKE_REGISTRY_SECRET_ACCESS_KEY": credentials["aws_secret_access_key"],
    }


def _pipeline_name(pipeline: StackInfo) -> dict[str, str]:
    (logical_id,) = pipeline.resources("AWS::CodePipeline::Pipeline")
    return {"Ref": logical_id}


def _head_commit() -> str:
    completed = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return completed.stdout.strip() or "0" * 40
