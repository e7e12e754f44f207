"""build_app synthesizes from the values it is handed: no construct reads a buildspec file or
fingerprints a build context (app.py reads them, once, and hands them down)."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from config.model import DeliveryConfig
from config.names import approval_stage_name
from config.paths import ROOT
from infra.images import ServiceImage
from pipeline.buildspec import BUILDSPEC_DIR, Buildspec, Buildspecs, load_buildspecs
from pipeline.cdk_app import build_app
from tests.support.assembly import Assembly, properties, ref_target

# The module synthesizes its own app once: on one worker.
pytestmark = pytest.mark.xdist_group("in-memory-app")

# No fingerprint of the services' sources could be this: a tag that exists only in memory.
IN_MEMORY_TAG = "0123456789abcdef" * 4

# The pipeline action that runs each buildspec (the first environment's, for the repeated ones).
ACTION_OF = {
    "synth": "Synth",
    "images": "Images",
    "change_report": "ChangeReport-staging",
    "verify": "Verify-dev",
}


def _in_memory_buildspec(field: str) -> Buildspec:
    """A buildspec no file holds: its commands and variables name the field."""
    return Buildspec(
        name=field,
        install_commands=[f"echo install {field}"],
        commands=[f"echo in-memory {field}"],
        partial={
            "version": "0.2",
            "env": {"variables": {"IN_MEMORY_BUILDSPEC": field}},
            "phases": {"install": {"runtime-versions": {"python": "3.11", "nodejs": "24"}}},
        },
    )


@pytest.fixture(scope="module")
def in_memory_assembly(tmp_path_factory: pytest.TempPathFactory, config: DeliveryConfig) -> Path:
    outdir = tmp_path_factory.mktemp("in-memory-cdk.out")
    buildspecs = Buildspecs(
        **{field.name: _in_memory_buildspec(field.name) for field in fields(Buildspecs)}
    )
    # The contexts do not exist: a construct that read one would fail or fingerprint nothing.
    missing_context = outdir.parent / "no-such-services-dir"
    images = {
        service: ServiceImage(
            service=service,
            account=config.pipeline.account,
            region=config.pipeline.region,
            repository_name=f"{config.project.name}/{service}",
            tag=IN_MEMORY_TAG,
            context=missing_context,
            dockerfile=f"{service}/Dockerfile",
        )
        for service in config.services
    }
    # The first environment gated too: nothing runs before its stage to hold its report.
    first, *later = config.environments
    gated_first = config.model_copy(
        update={"environments": [first.model_copy(update={"approval_required": True}), *later]}
    )
    app = build_app(
        config=gated_first,
        cli_version="0.0.0",
        buildspecs=buildspecs,
        images=images,
        web_dist=ROOT / "services" / "web" / "dist",
        outdir=outdir,
    )
    app.synth()
    return outdir


def _step_buildspecs(assembly: Assembly) -> dict[str, dict[str, Any]]:
    """Action name -> the inline buildspec of its CodeBuild project."""
    (pipeline,) = properties(assembly.pipeline_template, "AWS::CodePipeline::Pipeline")
    specs = {}
    for stage in pipeline["Stages"]:
        for action in stage["Actions"]:
            project_name = action["Configuration"].get("ProjectName")
            if not isinstance(project_name, dict):
                continue
            source = ref_target(assembly.pipeline_template, project_name)["Properties"]["Source"]
            if isinstance(source.get("BuildSpec"), str) and source["BuildSpec"].startswith("{"):
                specs[action["Name"]] = json.loads(source["BuildSpec"])
    return specs


@pytest.mark.parametrize("field", list(ACTION_OF))
def test_every_step_runs_the_buildspec_it_was_handed_not_the_file(
    in_memory_assembly: Path, field: str
) -> None:
    spec = _step_buildspecs(Assembly(in_memory_assembly))[ACTION_OF[field]]
    # Steps given cdk.out start their install phase by linking it in.
    assert spec["phases"]["install"]["commands"][-1:] == [f"echo install {field}"]
    assert spec["phases"]["build"]["commands"] == [f"echo in-memory {field}"]
    assert spec["env"]["variables"]["IN_MEMORY_BUILDSPEC"] == field


def test_no_step_runs_a_command_of_the_files(in_memory_assembly: Path) -> None:
    on_disk = {command for path in BUILDSPEC_DIR.glob("*.yml") for command in _commands(path)}
    ran = {
        command
        for spec in _step_buildspecs(Assembly(in_memory_assembly)).values()
        for phase in spec["phases"].values()
        for command in phase.get("commands", [])
    }
    assert on_disk
    assert not ran & on_disk


def _commands(path: Path) -> list[str]:
    spec = Buildspec.load(path.stem, path.parent)
    return [*spec.install_commands, *spec.commands]


def test_every_service_runs_the_image_tag_it_was_handed(
    in_memory_assembly: Path, config: DeliveryConfig
) -> None:
    cloud = Assembly(in_memory_assembly).cloud
    images = [
        json.dumps(container["Image"])
        for environment in config.environments
        for template in cloud.templates(environment.name).values()
        for task in properties(template, "AWS::ECS::TaskDefinition")
        for container in task["ContainerDefinitions"]
        if container["Name"] in config.services
    ]
    assert images
    assert all(f":{IN_MEMORY_TAG}" in image for image in images), images


def test_the_pipeline_runs_every_buildspec_file_and_no_other() -> None:
    loaded = load_buildspecs()
    assert {getattr(loaded, field.name).name for field in fields(Buildspecs)} == {
        path.stem for path in BUILDSPEC_DIR.glob("*.yml")
    }


def test_a_gated_first_environment_keeps_its_report_before_its_approval(
    in_memory_assembly: Path, config: DeliveryConfig
) -> None:
    template = Assembly(in_memory_assembly).pipeline_template
    (pipeline,) = properties(template, "AWS::CodePipeline::Pipeline")
    first = config.environments[0].name
    gate_name = approval_stage_name(first)
    names = [stage["Name"] for stage in pipeline["Stages"]]
    assert names.index(gate_name) + 1 == names.index(first)
    (gate,) = [stage for stage in pipeline["Stages"] if stage["Name"] == gate_name]
    # Its report has no stage before it to run in: it runs first in the approval's stage.
    orders = {action["Name"]: action["RunOrder"] for action in gate["Actions"]}
    assert orders == {f"ChangeReport-{first}": 1, f"Approve-{first}": 2}
    elsewhere = [
        action["Name"]
        for other in pipeline["Stages"]
        if other["Name"] != gate_name
        for action in other["Actions"]
    ]
    assert f"ChangeReport-{first}" not in elsewhere
