"""What replacing or removing a stateful resource does to its data, read from its policies.

One answer for both diffs: the offline template diff (the pull request, the rollback PR) reads
the policies from the two templates, the change-set report (at approval) from CloudFormation's
PolicyAction or the templates.
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatereplacepolicy.html
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STATEFUL_TYPES = frozenset(
    {
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBInstance",
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
        "AWS::DynamoDB::Table",
        "AWS::KMS::Key",
        "AWS::Logs::LogGroup",
        "AWS::SecretsManager::Secret",
        "AWS::ECR::Repository",
        "AWS::EFS::FileSystem",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::Cognito::UserPool",
    }
)
# Snapshot is honoured only by the types that have snapshots; on any other CloudFormation
# deletes, as with Delete ("Snapshot" in both attributes' docs).
SNAPSHOT_TYPES = frozenset(
    {
        "AWS::EC2::Volume",
        "AWS::ElastiCache::CacheCluster",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::Neptune::DBCluster",
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBInstance",
        "AWS::Redshift::Cluster",
        "AWS::DocDB::DBCluster",
    }
)
_ON_REPLACE = {
    "Retain": "old one retained, a new EMPTY one is created",
    "Snapshot": "snapshot taken, then a new EMPTY one",
    "Delete": "deleted and replaced by an EMPTY one",
}
_ON_REMOVE = {
    "Retain": "retained, outside the stack",
    "RetainExceptOnCreate": "retained, outside the stack",
    "Snapshot": "snapshot taken, then deleted",
    "Delete": "deleted",
}


# An Aurora DB instance's data lives in its cluster's storage, whatever the instance's policies.
HELD_BY_CLUSTER = "no data of its own: its DB cluster holds it"


def default_deletion_policy(resource: Mapping[str, Any]) -> str:
    """The DeletionPolicy CloudFormation applies when the template names none.

    "The default policy is Snapshot for AWS::RDS::DBCluster resources and for
    AWS::RDS::DBInstance resources that don't specify the DBClusterIdentifier property."
    UpdateReplacePolicy has no such exception: absent, the old resource is deleted.
    """
    resource_type = resource.get("Type")
    if resource_type == "AWS::RDS::DBCluster":
        return "Snapshot"
    if resource_type == "AWS::RDS::DBInstance" and "DBClusterIdentifier" not in resource.get(
        "Properties", {}
    ):
        return "Snapshot"
    return "Delete"


def template_policy(resource: Mapping[str, Any], *, removed: bool) -> tuple[str, str]:
    """(where it comes from, the policy): the resource's own attribute, else CloudFormation's
    default. A replacement follows UpdateReplacePolicy, a removal DeletionPolicy."""
    attribute = "DeletionPolicy" if removed else "UpdateReplacePolicy"
    if attribute in resource:
        return f"{attribute} {resource[attribute]}", str(resource[attribute])
    default = default_deletion_policy(resource) if removed else "Delete"
    return f"no {attribute}: {default} by default", default


def data_outcome(
    *, resource_type: str, resource: Mapping[str, Any] | None, policy: str | None, removed: bool
) -> str:
    """What happens to the data; ``policy`` None: nothing says (the deployed template unread)."""
    properties = (resource or {}).get("Properties", {})
    if resource_type == "AWS::RDS::DBInstance" and "DBClusterIdentifier" in properties:
        # An Aurora instance holds no data of its own: the cluster's storage outlives it.
        return HELD_BY_CLUSTER
    if policy is None:
        return "deleted unless its deployed DeletionPolicy retains it"
    if policy == "Snapshot" and resource_type not in SNAPSHOT_TYPES:
        policy = "Delete"
    outcomes = _ON_REMOVE if removed else _ON_REPLACE
    return outcomes.get(policy, f"{policy}: not a policy CloudFormation knows")
