"""The one cloud-assembly reader, on the real synthesized assembly and on hand-written manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from config.cloud_assembly import (
    PIPELINE,
    AssemblyNotFoundError,
    TemplateDestination,
    read_cloud_assembly,
)
from config.model import DeliveryConfig
from tests.support.assembly import Assembly


def test_every_template_synthesized_belongs_to_exactly_one_stack(assembly: Assembly) -> None:
    cloud = read_cloud_assembly(assembly.root)
    files = [stack.template_file for stack in cloud.stacks]
    assert sorted(files) == assembly.template_files()
    assert len({stack.name for stack in cloud.stacks}) == len(cloud.stacks)


def test_the_stacks_are_grouped_by_the_environment_that_deploys_them(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    cloud = read_cloud_assembly(assembly.root)
    # The stages come first in the root manifest, the pipeline's own stacks after them.
    assert cloud.environments == [*(env.name for env in config.environments), PIPELINE]
    for env in config.environments:
        stacks = cloud.environment_stacks(env.name)
        assert stacks
        for stack in stacks:
            assert stack.name.startswith(f"{config.project.name}-{env.name}-")
            # Its construct path runs through the stage, whose id is the environment's name.
            assert stack.display_name.split("/")[1] == env.name
            assert stack.account == env.account
            # CloudFront's web ACL lives in us-east-1, whatever the environment's region.
            assert stack.region in {env.region, "us-east-1"}
            assert stack.termination_protection is env.termination_protection
            assert stack.directory.parent == assembly.root
        assert {stack.location for stack in stacks} >= {(env.account, env.region)}


def test_the_pipeline_stack_is_in_the_root_assembly_where_the_config_puts_it(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    cloud = read_cloud_assembly(assembly.root)
    pipeline = cloud.stack(f"{config.project.name}-pipeline")
    assert pipeline.environment == PIPELINE
    assert pipeline.directory == assembly.root
    assert pipeline.location == (config.pipeline.account, config.pipeline.region)
    assert pipeline.termination_protection
    types = {resource["Type"] for resource in pipeline.template["Resources"].values()}
    assert "AWS::CodePipeline::Pipeline" in types
    assert pipeline.template == json.loads(pipeline.template_file.read_text(encoding="utf-8"))
    # The manifest entry as written stays at hand for what the typed fields do not name.
    assert pipeline.artifact["environment"] == (
        f"aws://{config.pipeline.account}/{config.pipeline.region}"
    )
    with pytest.raises(KeyError):
        cloud.stack(f"{config.project.name}-qa-stateful")


def test_templates_of_an_environment_are_by_stack_name(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    cloud = read_cloud_assembly(assembly.root)
    name = config.environments[0].name
    templates = cloud.templates(name)
    assert set(templates) == {stack.name for stack in cloud.environment_stacks(name)}
    for stack_name, template in templates.items():
        assert template == assembly.template(stack_name)


def _write_assembly(root: Path, stages: dict[str, list[dict[str, Any]]]) -> Path:
    """A root manifest with one stack of its own and a nested assembly per stage directory."""
    artifacts: dict[str, Any] = {}
    for directory, stacks in stages.items():
        nested = root / directory
        nested.mkdir(parents=True)
        listed = {}
        for stack in stacks:
            (nested / f"{stack['id']}.template.json").write_text(json.dumps({"Resources": {}}))
            listed[stack["id"]] = {
                "type": "aws:cloudformation:stack",
                "environment": "aws://222222222222/eu-west-1",
                "properties": {"templateFile": f"{stack['id']}.template.json"},
                **({"displayName": stack["display"]} if "display" in stack else {}),
            }
        (nested / "manifest.json").write_text(json.dumps({"artifacts": listed}))
        artifacts[directory] = {
            "type": "cdk:cloud-assembly",
            "properties": {"directoryName": directory},
        }
    (root / "Pipeline.template.json").write_text(json.dumps({"Resources": {}}))
    artifacts["Pipeline"] = {
        "type": "aws:cloudformation:stack",
        "environment": "aws://111111111111/eu-west-1",
        "properties": {"templateFile": "Pipeline.template.json", "stackName": "todo-pipeline"},
    }
    (root / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    return root


def test_an_environment_whose_name_has_a_dash_keeps_its_whole_name(tmp_path: Path) -> None:
    # Names may hold "-" ("dev" and "dev-eu" in one account): the stage's directory
    # "assembly-Pipeline-dev-eu" alone cannot tell "dev-eu" of stage "Pipeline" from "eu" of
    # stage "Pipeline/dev"; the display names of its stacks can.
    root = _write_assembly(
        tmp_path,
        {
            "assembly-Pipeline-dev-eu": [{"id": "Network", "display": "Pipeline/dev-eu/Network"}],
            "assembly-Pipeline-dev": [{"id": "Data", "display": "Pipeline/dev/Data"}],
        },
    )
    cloud = read_cloud_assembly(root)
    assert cloud.environments == ["dev-eu", "dev", PIPELINE]
    (network,) = cloud.environment_stacks("dev-eu")
    # Without a stackName the artifact id names the stack, as CloudFormation is told.
    assert (network.name, network.display_name) == ("Network", "Pipeline/dev-eu/Network")
    assert network.location == ("222222222222", "eu-west-1")
    assert network.template_file == root / "assembly-Pipeline-dev-eu" / "Network.template.json"
    assert not network.termination_protection
    (pipeline,) = cloud.environment_stacks(PIPELINE)
    assert (pipeline.name, pipeline.display_name) == ("todo-pipeline", "Pipeline")


def test_a_stage_without_display_names_is_named_by_its_directory(tmp_path: Path) -> None:
    root = _write_assembly(tmp_path, {"assembly-staging": [{"id": "Data"}]})
    assert read_cloud_assembly(root).environments == ["staging", PIPELINE]


def test_a_directory_without_a_manifest_is_no_assembly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_cloud_assembly(tmp_path)


def test_a_folder_without_a_manifest_is_named_with_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(AssemblyNotFoundError) as missing:
        read_cloud_assembly(tmp_path)
    assert str(missing.value) == f"{tmp_path}/manifest.json not found: run make synth first"


@pytest.mark.parametrize(
    ("region", "url"),
    [
        ("eu-west-1", "https://cdk-assets.s3.eu-west-1.amazonaws.com/abc.json"),
        ("cn-north-1", "https://cdk-assets.s3.cn-north-1.amazonaws.com.cn/abc.json"),
        ("us-gov-west-1", "https://cdk-assets.s3.us-gov-west-1.amazonaws.com/abc.json"),
    ],
)
def test_a_template_destination_is_addressed_in_its_regions_own_domain(
    region: str, url: str
) -> None:
    """CloudFormation reads a TemplateURL only from S3's endpoint of the region (China's
    regions answer under amazonaws.com.cn)."""
    destination = TemplateDestination(
        bucket="cdk-assets", key="abc.json", region=region, role_arn="arn:aws:iam::1:role/r"
    )
    assert destination.url == url
