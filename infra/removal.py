"""Retained resources are retained on update and delete, never after a failed first create.

With DeletionPolicy Retain, a resource created by a stack operation that then rolls back stays
behind, outside any stack; a resource with a fixed physical name (an ECR repository, a named
log group, CodePipeline's replication bucket) then makes the retry fail with "already exists".
RetainExceptOnCreate (CDK: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE) deletes what the failed
operation created and retains it in every other case; UpdateReplacePolicy stays Retain.
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
"""

from __future__ import annotations

from aws_cdk import CfnDeletionPolicy, CfnResource, Stage
from constructs import ConstructOrder, IConstruct

# The resource classes a CDK construct creates with DeletionPolicy Retain unless told otherwise
# (their L2s default to RemovalPolicy.RETAIN), by jsii type name: only these are read, as each
# read is two round trips to node and there are some 800 resources. A new type that defaults to
# Retain and is missing here shows up in the templates (tests/infra/test_removal.py reads them).
RETAINED_BY_DEFAULT = frozenset(
    f"aws-cdk-lib.{name}"
    for name in (
        "aws_s3.CfnBucket",
        "aws_kms.CfnKey",
        "aws_logs.CfnLogGroup",
        "aws_ecr.CfnRepository",
        "aws_dynamodb.CfnTable",
        "aws_dynamodb.CfnGlobalTable",
        "aws_efs.CfnFileSystem",
        "aws_cognito.CfnUserPool",
        "aws_backup.CfnBackupVault",
        "aws_rds.CfnDBCluster",
        "aws_rds.CfnDBInstance",
        "aws_secretsmanager.CfnSecret",
    )
)


def retain_except_on_create(scope: IConstruct) -> list[str]:
    """Turn every DeletionPolicy Retain below ``scope`` into RetainExceptOnCreate, on the
    resource types of RETAINED_BY_DEFAULT.

    For the resources our code cannot set directly: those CDK generates (the pipeline's artifact
    buckets, BucketDeployment's log group, a kms.Key's default). Call it once every resource
    exists; returns the construct paths it changed.

    A Stage below ``scope`` is left out: it is an assembly of its own, which its own call covers
    (CDK Pipelines synthesizes a stage when it is added, so a change made to it later would not
    reach its templates anyway). Each construct read here is a jsii round trip to node: the
    pipeline stack's call used to read every environment's resources a second time.
    """
    # Pre-order: each construct's subtree follows it, contiguously, so a nested stage is
    # skipped by its size alone.
    constructs = scope.node.find_all(ConstructOrder.PREORDER)
    changed = []
    index = 1  # constructs[0] is scope itself
    while index < len(constructs):
        construct = constructs[index]
        if isinstance(construct, Stage):
            index += len(construct.node.find_all(ConstructOrder.PREORDER))
            continue
        index += 1
        if (
            getattr(type(construct), "__jsii_type__", None) in RETAINED_BY_DEFAULT
            and isinstance(construct, CfnResource)
            and construct.cfn_options.deletion_policy == CfnDeletionPolicy.RETAIN
        ):
            construct.cfn_options.deletion_policy = CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE
            changed.append(construct.node.path)
    return changed
