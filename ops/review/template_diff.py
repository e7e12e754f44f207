"""What a change would do to each environment, computed offline from two cloud assemblies.

`python -m ops.review.template_diff BASE HEAD` compares two synthesized `cdk.out` directories
(no AWS credentials: pull requests from forks are safe) and reports per environment which
stacks and resources are added, changed, replaced or removed. IAM and security-group changes
are flagged, and replacing or removing a stateful resource (data that would be lost) is bold.

Replacement is read from the CloudFormation resource schemas (their createOnlyProperties)
that cfn-lint ships, so it follows the same rules CloudFormation applies.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from config.cloud_assembly import PIPELINE_TYPE, read_cloud_assembly
from config.exit_codes import BAD_INPUT, SUCCESS
from ops.common import cloud_assembly_or_exit

Kind = Literal["added", "removed", "changed", "replaced"]
Templates = dict[str, dict[str, Any]]  # stack name -> template

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
# Resource types whose very purpose is permissions, and properties that carry a policy.
_IAM_TYPE_PREFIXES = ("AWS::IAM::",)
_POLICY_TYPES = frozenset(
    {
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::Lambda::Permission",
        "AWS::KMS::Key",
        "AWS::ECR::Repository",
        "AWS::SecretsManager::ResourcePolicy",
    }
)
_POLICY_PROPERTIES = frozenset(
    {
        "PolicyDocument",
        "Policies",
        "AssumeRolePolicyDocument",
        "KeyPolicy",
        "RepositoryPolicyText",
        "ManagedPolicyArns",
        "PolicyText",
        "ResourcePolicy",
    }
)
_SECURITY_GROUP_TYPES = frozenset(
    {
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::SecurityGroupIngress",
        "AWS::EC2::SecurityGroupEgress",
    }
)


@cache
def _schema_index() -> dict[str, str]:
    schemas = resources.files("cfnlint.data.schemas")
    return dict(json.loads(schemas.joinpath("providers/us-east-1.json").read_text("utf-8")))


@cache
def create_only_properties(resource_type: str) -> frozenset[str]:
    """Top-level properties whose change makes CloudFormation replace the resource."""
    digest = _schema_index().get(resource_type)
    if digest is None:
        return frozenset()
    schema_file = resources.files("cfnlint.data.schemas").joinpath(f"resources/{digest}.json")
    schema = json.loads(schema_file.read_text("utf-8"))
    return frozenset(
        path.removeprefix("/properties/").split("/")[0]
        for path in schema.get("createOnlyProperties", [])
    )


@dataclass(frozen=True, kw_only=True)
class ResourceChange:
    logical_id: str
    resource_type: str
    kind: Kind
    properties: tuple[str, ...] = ()

    @property
    def stateful(self) -> bool:
        return self.resource_type in STATEFUL_TYPES

    @property
    def data_at_risk(self) -> bool:
        return self.stateful and self.kind in {"replaced", "removed"}

    @property
    def iam(self) -> bool:
        if self.resource_type.startswith(_IAM_TYPE_PREFIXES):
            return True
        if self.kind in {"changed", "replaced"}:
            return bool(_POLICY_PROPERTIES & set(self.properties))
        return self.resource_type in _POLICY_TYPES

    @property
    def security_group(self) -> bool:
        if self.resource_type in _SECURITY_GROUP_TYPES:
            return True
        return "SecurityGroupIngress" in self.properties or "SecurityGroupEgress" in self.properties


@dataclass(frozen=True, kw_only=True)
class StackDiff:
    stack: str
    kind: Literal["added", "removed", "changed"]
    changes: tuple[ResourceChange, ...]


@dataclass(frozen=True, kw_only=True)
class EnvironmentDiff:
    environment: str
    stacks: tuple[StackDiff, ...] = field(default=())

    @property
    def changes(self) -> list[ResourceChange]:
        return [change for stack in self.stacks for change in stack.changes]


def stacks_by_environment(assembly: Path) -> dict[str, Templates]:
    """{environment: {stack name: template}}; the pipeline's own stacks are "pipeline"."""
    cloud = read_cloud_assembly(assembly)
    return {environment: cloud.templates(environment) for environment in cloud.environments}


# Keys that never change what CloudFormation deploys.
_IGNORED_KEYS = frozenset({"Metadata"})
_IGNORED_TYPES = frozenset({"AWS::CDK::Metadata"})


def _deployable(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: {key: value for key, value in resource.items() if key not in _IGNORED_KEYS}
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] not in _IGNORED_TYPES
    }


def _changed_keys(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key)))


def _resource_change(logical_id: str, old: dict[str, Any], new: dict[str, Any]) -> ResourceChange:
    if old["Type"] != new["Type"]:
        return ResourceChange(logical_id=logical_id, resource_type=new["Type"], kind="replaced")
    properties = _changed_keys(old.get("Properties", {}), new.get("Properties", {}))
    # DeletionPolicy, DependsOn, Condition...: named as they are, never a replacement.
    attributes = tuple(key for key in _changed_keys(old, new) if key not in {"Properties", "Type"})
    replaced = bool(set(properties) & create_only_properties(new["Type"]))
    return ResourceChange(
        logical_id=logical_id,
        resource_type=new["Type"],
        kind="replaced" if replaced else "changed",
        properties=properties + attributes,
    )


def _resource_changes(base: dict[str, Any], head: dict[str, Any]) -> list[ResourceChange]:
    old_resources, new_resources = _deployable(base), _deployable(head)
    changes = []
    for logical_id in sorted(old_resources.keys() | new_resources.keys()):
        old, new = old_resources.get(logical_id), new_resources.get(logical_id)
        if old is None and new is not None:
            changes.append(
                ResourceChange(logical_id=logical_id, resource_type=new["Type"], kind="added")
            )
        elif new is None and old is not None:
            changes.append(
                ResourceChange(logical_id=logical_id, resource_type=old["Type"], kind="removed")
            )
        elif old is not None and new is not None and old != new:
            changes.append(_resource_change(logical_id, old, new))
    return changes


def diff_environment(environment: str, old: Templates, new: Templates) -> EnvironmentDiff:
    """Stack by stack changes of one environment; a stack missing on one side is added/removed."""
    stacks = []
    for name in sorted(old.keys() | new.keys()):
        old_template, new_template = old.get(name), new.get(name)
        changes = tuple(_resource_changes(old_template or {}, new_template or {}))
        if old_template is None:
            stacks.append(StackDiff(stack=name, kind="added", changes=changes))
        elif new_template is None:
            stacks.append(StackDiff(stack=name, kind="removed", changes=changes))
        elif changes:
            stacks.append(StackDiff(stack=name, kind="changed", changes=changes))
    return EnvironmentDiff(environment=environment, stacks=tuple(stacks))


def diff_assemblies(base: Path, head: Path) -> list[EnvironmentDiff]:
    base_stacks, head_stacks = stacks_by_environment(base), stacks_by_environment(head)
    ordered = list(head_stacks) + [env for env in base_stacks if env not in head_stacks]
    return [
        diff_environment(env, base_stacks.get(env, {}), head_stacks.get(env, {})) for env in ordered
    ]


def _row(change: ResourceChange) -> str:
    flags = []
    if change.iam:
        flags.append("IAM")
    if change.security_group:
        flags.append("security group")
    if change.data_at_risk:
        flags.append("**STATEFUL: data may be lost**")
    what = f"{change.kind} `{change.logical_id}` ({change.resource_type})"
    if change.data_at_risk:
        what = f"**{what}**"
    details = f" — {', '.join(change.properties)}" if change.properties else ""
    flag_text = f" [{'; '.join(flags)}]" if flags else ""
    return f"- {what}{details}{flag_text}"


# CodePipeline rolls a stage back only to an execution of the current pipeline structure.
RESETS_ROLLBACK = (
    "**The pipeline's structure changes: this resets the rollback history** (automatic stage "
    "rollback reaches only executions started after this change deploys)."
)


def changes_pipeline_structure(diffs: list[EnvironmentDiff]) -> bool:
    return any(change.resource_type == PIPELINE_TYPE for env in diffs for change in env.changes)


def render_markdown(diffs: list[EnvironmentDiff]) -> str:
    lines = ["## Template diff", ""]
    if changes_pipeline_structure(diffs):
        lines += [RESETS_ROLLBACK, ""]
    for env in diffs:
        changes = env.changes
        counts = {
            kind: sum(c.kind == kind for c in changes)
            for kind in ("added", "changed", "replaced", "removed")
        }
        summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "no changes"
        lines.append(f"### {env.environment}: {summary}")
        if any(c.data_at_risk for c in changes):
            lines.append("**Stateful resources would be replaced or removed in this environment.**")
        if any(c.iam for c in changes):
            lines.append("IAM permissions change in this environment.")
        if any(c.security_group for c in changes):
            lines.append("Security groups change in this environment.")
        for stack in env.stacks:
            lines.append(f"- stack `{stack.stack}` {stack.kind}")
            lines += ["  " + _row(change) for change in stack.changes]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(
            "usage: python -m ops.review.template_diff BASE_ASSEMBLY HEAD_ASSEMBLY", file=sys.stderr
        )
        return BAD_INPUT
    base, head = Path(args[0]), Path(args[1])
    for assembly in (base, head):
        cloud_assembly_or_exit(assembly, command="template diff")
    print(render_markdown(diff_assemblies(base, head)), end="")
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
