"""Properties every stack of every environment shares: tags, deletion, protection."""

from __future__ import annotations

from typing import Any

import pytest

from config.model import DeliveryConfig
from tests.support.assembly import Assembly

STACKS = ["stateful", "stateless"]
STATEFUL = {
    "AWS::RDS::DBCluster",
    "AWS::KMS::Key",
    "AWS::SecretsManager::Secret",
    "AWS::SQS::Queue",
    "AWS::Logs::LogGroup",
    "AWS::S3::Bucket",
}
# Types that take Tags but whose CDK constructs or CloudFormation schema do not propagate them.
UNTAGGABLE = {"AWS::RDS::DBProxyTargetGroup"}


def _templates(assembly: Assembly, env: str) -> dict[str, dict[str, Any]]:
    return {stack: assembly.template(f"todo-{env}-{stack}") for stack in STACKS}


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_no_stateful_resource_is_deleted_with_its_stack(assembly: Assembly, env: str) -> None:
    for stack, template in _templates(assembly, env).items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] in STATEFUL:
                # Retained on delete and replacement; only a failed first create removes it.
                assert resource.get("DeletionPolicy") in {"RetainExceptOnCreate", "Snapshot"}, (
                    stack,
                    logical_id,
                )
                assert resource.get("UpdateReplacePolicy") in {"Retain", "Snapshot"}, logical_id


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_cost_tags_on_every_resource_that_carries_tags(
    assembly: Assembly, config: DeliveryConfig, env: str
) -> None:
    expected = {
        "project": config.project.name,
        "environment": env,
        "owner": config.project.owner,
        "cost-center": config.project.cost_center,
    }
    tagged_types = set()
    for template in _templates(assembly, env).values():
        for resource in template["Resources"].values():
            tags = resource.get("Properties", {}).get("Tags")
            if isinstance(tags, list):
                as_dict = {t["Key"]: t["Value"] for t in tags}
                assert expected.items() <= as_dict.items(), resource["Type"]
                tagged_types.add(resource["Type"])
            elif isinstance(tags, dict):
                assert expected.items() <= tags.items(), resource["Type"]
                tagged_types.add(resource["Type"])
    for resource_type in (
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBProxy",
        "AWS::SQS::Queue",
        "AWS::ECS::Service",
        "AWS::ECS::Cluster",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::SNS::Topic",
        "AWS::KMS::Key",
    ):
        assert resource_type in tagged_types, resource_type


def test_prod_stacks_have_termination_protection(assembly: Assembly) -> None:
    artifacts = assembly.stack_artifacts("prod")
    assert {a["properties"]["stackName"] for a in artifacts.values()} >= {
        f"todo-prod-{stack}" for stack in STACKS
    }
    assert all(a["properties"]["terminationProtection"] is True for a in artifacts.values())
