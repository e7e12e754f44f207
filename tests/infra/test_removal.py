"""A failed first create can be retried: nothing it created survives the rollback.

DeletionPolicy Retain keeps a resource that the rolled-back operation created; with a fixed
physical name (the ECR repositories, a named log group, CodePipeline's replication bucket) the
retry then fails with "already exists". RetainExceptOnCreate deletes it in that one case and
retains it on every update and delete, so data protection stays as it was.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from aws_cdk import App, CfnDeletionPolicy, CfnResource, RemovalPolicy, Stack, Stage
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from infra.escape_hatch import cfn_resource
from infra.removal import RETAINED_BY_DEFAULT, retain_except_on_create
from tests.support.assembly import Assembly

# DeletionPolicy values that leave nothing behind when the creating operation rolls back.
# Snapshot does: CloudFormation snapshots the Aurora cluster, then deletes it (the snapshot has
# a generated name and blocks nothing).
SAFE_ON_FAILED_CREATE = {None, "Delete", "RetainExceptOnCreate", "Snapshot"}
# Resources that must survive a failed first create, with the reason. None today; an entry
# here needs a reviewed reason (and a name that a retry cannot collide with).
ALLOWED_RETAIN: dict[tuple[str, str], str] = {}

FIXED_NAME_TYPES = {
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
}


def _resources(assembly: Assembly) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (template_file.name, logical_id, resource)
        for template_file in assembly.template_files()
        for logical_id, resource in json.loads(template_file.read_text())["Resources"].items()
    ]


def test_no_resource_survives_a_failed_first_create(assembly: Assembly) -> None:
    survivors = {
        (file, logical_id): resource["Type"]
        for file, logical_id, resource in _resources(assembly)
        if resource.get("DeletionPolicy") not in SAFE_ON_FAILED_CREATE
    }
    assert set(survivors) == set(ALLOWED_RETAIN), survivors


def test_the_fixed_names_that_would_block_a_retry_are_deleted_on_a_failed_create(
    assembly: Assembly,
) -> None:
    """The cases that motivated the rule exist, and each is covered by it."""
    named = {
        (
            resource["Type"],
            json.dumps(resource["Properties"][FIXED_NAME_TYPES[resource["Type"]]]),
        ): resource.get("DeletionPolicy")
        for _, _, resource in _resources(assembly)
        if FIXED_NAME_TYPES.get(resource["Type"]) in resource.get("Properties", {})
    }
    assert named[("AWS::ECR::Repository", '"todo/api"')] == "RetainExceptOnCreate"
    assert named[("AWS::ECR::Repository", '"todo/worker"')] == "RetainExceptOnCreate"
    assert (
        named[("AWS::Logs::LogGroup", '"/aws/rds/cluster/todo-prod-data-cluster/postgresql"')]
        == "RetainExceptOnCreate"
    )
    replicas = [k for k in named if k[0] == "AWS::S3::Bucket"]
    assert replicas, "CodePipeline's cross-region replication bucket has a fixed name"
    assert {named[k] for k in replicas} == {"RetainExceptOnCreate"}


def test_retained_resources_are_still_retained_on_replacement(assembly: Assembly) -> None:
    for file, logical_id, resource in _resources(assembly):
        if resource.get("DeletionPolicy") == "RetainExceptOnCreate":
            assert resource.get("UpdateReplacePolicy") == "Retain", (file, logical_id)


def test_retain_except_on_create_changes_only_retain() -> None:
    stack = Stack(App(), "Probe")
    kept = s3.Bucket(stack, "Kept", removal_policy=RemovalPolicy.RETAIN)
    deleted = s3.Bucket(stack, "Deleted", removal_policy=RemovalPolicy.DESTROY)
    raw = CfnResource(stack, "Raw", type="AWS::SNS::Topic")
    raw.cfn_options.deletion_policy = CfnDeletionPolicy.SNAPSHOT

    changed = retain_except_on_create(stack)

    assert changed == ["Probe/Kept/Resource"]
    template = Template.from_stack(stack).to_json()["Resources"]

    def policies(construct: CfnResource) -> tuple[str | None, str | None]:
        resource = template[stack.get_logical_id(construct)]
        return resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")

    assert policies(cfn_resource(kept, s3.CfnBucket)) == ("RetainExceptOnCreate", "Retain")
    assert policies(cfn_resource(deleted, s3.CfnBucket)) == ("Delete", "Delete")
    assert policies(raw) == ("Snapshot", None)


@pytest.mark.parametrize("jsii_type", sorted(RETAINED_BY_DEFAULT))
def test_every_type_read_for_retain_is_a_real_cdk_resource_class(jsii_type: str) -> None:
    """A misspelt name would never match, and its resources would keep plain Retain."""
    module, _, name = jsii_type.removeprefix("aws-cdk-lib.").partition(".")
    resource_class = getattr(importlib.import_module(f"aws_cdk.{module}"), name)
    assert issubclass(resource_class, CfnResource)
    assert resource_class.__jsii_type__ == jsii_type


def test_retain_except_on_create_leaves_a_nested_stage_to_its_own_call() -> None:
    """The pipeline stack's call reads only its own resources, not every environment's again."""
    outer = Stack(App(), "Outer")
    s3.Bucket(outer, "Own", removal_policy=RemovalPolicy.RETAIN)
    stage = Stage(outer, "Nested")
    s3.Bucket(Stack(stage, "Inner"), "Theirs", removal_policy=RemovalPolicy.RETAIN)

    assert retain_except_on_create(outer) == ["Outer/Own/Resource"]
    assert retain_except_on_create(stage) == ["Outer/Nested/Inner/Theirs/Resource"]
