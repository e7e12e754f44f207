"""The runtimes AWS and GitHub run for us are supported ones, and the same ones everywhere.

Every CodeBuild project of the synthesized app (the steps, and CDK Pipelines' own self-mutation
and asset-publishing projects) pins a Node.js and a Python that its curated image offers, and
neither is near its end of life; the GitHub workflows set up the same two versions in every job
whose make targets need them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.paths import ROOT
from pipeline.buildspec import Buildspec
from policies.workflows import WORKFLOWS_DIR, load_workflow
from tests.support.assembly import Assembly, resources

# What each curated image offers in `runtime-versions`, from its runtimes.yml:
# https://docs.aws.amazon.com/codebuild/latest/userguide/available-runtimes.html
# https://github.com/aws/aws-codebuild-docker-images/blob/master/ubuntu/standard/8.0/runtimes.yml
CURATED_IMAGES: dict[str, dict[str, frozenset[str]]] = {
    "aws/codebuild/standard:7.0": {
        "nodejs": frozenset({"18", "20"}),
        "python": frozenset({"3.11", "3.12"}),
    },
    "aws/codebuild/standard:8.0": {
        "nodejs": frozenset({"22", "24"}),
        "python": frozenset({"3.10", "3.11", "3.12", "3.13", "3.14"}),
    },
}
# End of upstream support: https://github.com/nodejs/Release#release-schedule and
# https://devguide.python.org/versions/
END_OF_LIFE = {
    "nodejs": {
        "18": date(2025, 4, 30),
        "20": date(2026, 4, 30),
        "22": date(2027, 4, 30),
        "24": date(2028, 4, 30),
    },
    "python": {
        "3.10": date(2026, 10, 31),
        "3.11": date(2027, 10, 31),
        "3.12": date(2028, 10, 31),
        "3.13": date(2029, 10, 31),
        "3.14": date(2030, 10, 31),
    },
}
# A runtime this close to its end of life fails: time to move before CodeBuild and GitHub
# drop it from their images.
NOTICE = timedelta(days=90)
# Judged as of the day these tables were last reviewed, not today: a commit must pass its own
# Build step whenever it runs again (a `git revert` rebuilds an older tree). Move it with them.
REVIEWED = date(2026, 12, 1)
RUNTIMES = ("nodejs", "python")
PINNED = Buildspec.load("synth").runtime_versions


def _supported(runtime: str, version: str) -> bool:
    end = END_OF_LIFE[runtime].get(version)
    return end is not None and end > REVIEWED + NOTICE


def _buildspec(assembly_dir: Path, source: dict[str, Any]) -> dict[str, Any]:
    spec = source["BuildSpec"]
    # CDK Pipelines writes a long buildspec (asset publishing) into the assembly as a file.
    if spec.lstrip().startswith("{"):
        return dict(json.loads(spec))
    return dict(yaml.safe_load((assembly_dir / spec).read_text(encoding="utf-8")))


def _projects(assembly: Assembly) -> dict[str, tuple[str, dict[str, str]]]:
    """Every CodeBuild project of the app: its image and its install phase's runtimes."""
    found = {}
    for template_file in assembly.template_files():
        template = json.loads(template_file.read_text(encoding="utf-8"))
        for logical_id, project in resources(template, "AWS::CodeBuild::Project").items():
            spec = _buildspec(template_file.parent, project["Properties"]["Source"])
            runtimes = spec.get("phases", {}).get("install", {}).get("runtime-versions", {})
            found[f"{template_file.name}:{logical_id}"] = (
                project["Properties"]["Environment"]["Image"],
                {str(name): str(version) for name, version in runtimes.items()},
            )
    return found


def test_the_buildspecs_pin_supported_runtimes() -> None:
    assert sorted(PINNED) == sorted(RUNTIMES)
    assert [f"{name} {v}" for name, v in PINNED.items() if not _supported(name, v)] == []


def test_every_codebuild_project_runs_a_supported_runtime_its_image_offers(
    assembly: Assembly,
) -> None:
    projects = _projects(assembly)
    assert any("SelfMutation" in name for name in projects), "CDK Pipelines' own projects"
    problems = []
    for name, (image, runtimes) in sorted(projects.items()):
        offered = CURATED_IMAGES.get(image)
        if offered is None:
            problems.append(f"{name}: {image} is not a curated image this test knows")
            continue
        for runtime in RUNTIMES:
            version = runtimes.get(runtime)
            if version not in offered[runtime]:
                problems.append(
                    f"{name}: {image} offers {runtime} {sorted(offered[runtime])}, "
                    f"the project pins {version}"
                )
            elif not _supported(runtime, version):
                problems.append(f"{name}: {runtime} {version} ends {END_OF_LIFE[runtime][version]}")
            elif version != PINNED[runtime]:
                problems.append(
                    f"{name}: {runtime} {version}, the Synth step runs {PINNED[runtime]}"
                )
    assert problems == []


def _resolve(value: Any, *scopes: dict[str, Any]) -> str:
    """A workflow value with ${{ env.X }} taken from the job's, then the workflow's env."""

    def lookup(match: re.Match[str]) -> str:
        for scope in scopes:
            if match["name"] in scope:
                return str(scope[match["name"]])
        raise KeyError(match["name"])

    return re.sub(r"\$\{\{\s*env\.(?P<name>\w+)\s*\}\}", lookup, str(value))


def _dry_run(script: str) -> str:
    """What make would execute for a run: step, every target out of date (-B), nothing run."""
    commands = []
    for line in filter(None, map(str.strip, script.splitlines())):
        words = shlex.split(line)
        targets = [word for word in words[1:] if "=" not in word and not word.startswith("-")]
        # -k: a target that needs a variable the runner sets (SERVICE) stops only itself.
        commands.append(
            subprocess.run(
                ["make", "--no-print-directory", "-n", "-B", "-k", *targets],
                cwd=ROOT,
                env={**os.environ, "MAKEFLAGS": ""},
                capture_output=True,
                text=True,
                check=False,
            ).stdout
        )
    return "\n".join(commands)


def _jobs() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [
        (f"{path.name}: {name}", job, workflow)
        for path in sorted(WORKFLOWS_DIR.glob("*.yml"))
        for workflow in [load_workflow(path)]
        for name, job in workflow["jobs"].items()
    ]


@pytest.mark.parametrize(("where", "job", "workflow"), _jobs(), ids=[j[0] for j in _jobs()])
def test_each_workflow_job_sets_up_the_runtimes_codebuild_runs(
    where: str, job: dict[str, Any], workflow: dict[str, Any]
) -> None:
    """A job that runs npm or the CDK CLI sets up Node, any job running make sets up Python,
    each with the version CodeBuild uses (the runner's preinstalled ones drift)."""
    steps = job.get("steps", [])
    scripts = "\n".join(str(step["run"]) for step in steps if "run" in step)
    executed = _dry_run(scripts) if scripts else ""
    needs = {
        "nodejs": bool(re.search(r"\bnpm\b|node_modules/\.bin/", executed)),
        "python": bool(scripts),
    }
    actions = {"nodejs": "actions/setup-node@", "python": "actions/setup-python@"}
    inputs = {"nodejs": "node-version", "python": "python-version"}
    for runtime, needed in needs.items():
        setups = [step for step in steps if str(step.get("uses", "")).startswith(actions[runtime])]
        if not needed:
            continue
        assert setups, f"{where}: runs {runtime} without {actions[runtime]}"
        for setup in setups:
            version = _resolve(
                setup["with"][inputs[runtime]], job.get("env", {}), workflow.get("env", {})
            )
            assert version == PINNED[runtime], (
                f"{where}: {runtime} {version}, CodeBuild {PINNED[runtime]}"
            )
