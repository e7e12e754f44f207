"""The tooling account's stacks carry the cost tags, with environment "pipeline"."""

from __future__ import annotations

from config.model import DeliveryConfig
from tests.support.assembly import Assembly, resources


def test_pipeline_and_support_stacks_tag_their_resources(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    expected = {
        "project": config.project.name,
        "environment": "pipeline",
        "owner": config.project.owner,
        "cost-center": config.project.cost_center,
    }
    support = assembly.template(f"{config.project.name}-pipeline-support-us-east-1")
    for template in (assembly.pipeline_template, support):
        for resource_type in ("AWS::S3::Bucket", "AWS::KMS::Key"):
            for resource in resources(template, resource_type).values():
                tags = {t["Key"]: t["Value"] for t in resource["Properties"]["Tags"]}
                assert expected.items() <= tags.items(), resource_type
    for resource_type in ("AWS::CodePipeline::Pipeline", "AWS::CodeBuild::Project"):
        for resource in resources(assembly.pipeline_template, resource_type).values():
            tags = {t["Key"]: t["Value"] for t in resource["Properties"]["Tags"]}
            assert expected.items() <= tags.items(), resource_type


def test_environment_stages_keep_their_own_environment_tag(assembly: Assembly) -> None:
    """Tagging the pipeline stack must not reach the stages nested in it."""
    for resource in resources(assembly.template("todo-dev-stateful"), "AWS::SQS::Queue").values():
        tags = {t["Key"]: t["Value"] for t in resource["Properties"]["Tags"]}
        assert tags["environment"] == "dev"
