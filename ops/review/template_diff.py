"""What a change would do to each environment, computed offline from two cloud assemblies.

`python -m ops.review.template_diff BASE HEAD` compares two synthesized `cdk.out` directories
(no AWS credentials: pull requests from forks are safe) and reports per environment which
stacks and resources are added, changed, replaced or removed. IAM and security-group changes
are flagged, and replacing or removing a stateful resource (data that would be lost) is bold.

Each change's impact is CDK's own diff engine's (ops/review/cdk_diff.py: what `cdk diff`
says), so nested create-only properties and replacements cascading through Ref/GetAtt count; a
replacement is also followed into the other stacks of the environment that read it through
Fn::GetStackOutput or Fn::ImportValue. IAM statements and security-group rules are listed.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from config.cloud_assembly import PIPELINE_TYPE, read_cloud_assembly
from config.exit_codes import BAD_INPUT, SUCCESS
from ops.common import cloud_assembly_or_exit
from ops.review import stateful
from ops.review.cdk_diff import CdkDiffError, Impact, StackPair, StackVerdict, diff_stacks

Kind = Literal["added", "removed", "changed", "replaced", "may be replaced"]
Templates = dict[str, dict[str, Any]]  # stack name -> template

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


@dataclass(frozen=True, kw_only=True)
class ResourceChange:
    logical_id: str
    resource_type: str
    kind: Kind
    properties: tuple[str, ...] = ()
    replacing: tuple[str, ...] = ()  # the properties that force the replacement
    causes: tuple[str, ...] = ()  # replaced resources it reads ("<stack>/<id>" across stacks)
    retained: bool = False  # removed from the stack, kept in the account (DeletionPolicy Retain)
    # What a stateful replacement or removal does to the data, and the policy that decides it.
    consequence: str = ""
    # Why the service will refuse the update CloudFormation attempts (the deploy fails).
    refusal: str = ""

    @property
    def stateful(self) -> bool:
        return self.resource_type in stateful.STATEFUL_TYPES

    @property
    def data_at_risk(self) -> bool:
        replaced = self.kind in {"replaced", "may be replaced"}
        return self.stateful and (replaced or (self.kind == "removed" and not self.retained))

    @property
    def iam(self) -> bool:
        if self.resource_type.startswith(_IAM_TYPE_PREFIXES):
            return True
        if self.kind in {"changed", "replaced", "may be replaced"}:
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
    # IAM statements, security-group rules and outputs, as CDK's engine reads them.
    verdict: StackVerdict = field(default_factory=lambda: StackVerdict(resources={}))


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


_KINDS: dict[Impact, Kind] = {
    "WILL_CREATE": "added",
    "WILL_IMPORT": "added",
    "WILL_UPDATE": "changed",
    "NO_CHANGE": "changed",  # only a resource attribute changed (DeletionPolicy, DependsOn...)
    "WILL_REPLACE": "replaced",
    "MAY_REPLACE": "may be replaced",
    "WILL_DESTROY": "removed",
    "WILL_ORPHAN": "removed",
}


def _consequence(
    logical_id: str, kind: Kind, *, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> str:
    """A replacement follows the new template's UpdateReplacePolicy, a removal the deployed
    (old) template's DeletionPolicy."""
    removed = kind == "removed"
    resource = ((old if removed else new) or {}).get("Resources", {}).get(logical_id)
    if resource is None or resource.get("Type") not in stateful.STATEFUL_TYPES:
        return ""
    source, policy = stateful.template_policy(resource, removed=removed)
    outcome = stateful.data_outcome(
        resource_type=str(resource["Type"]), resource=resource, policy=policy, removed=removed
    )
    return outcome if outcome == stateful.HELD_BY_CLUSTER else f"{outcome} ({source})"


def _changes(
    verdict: StackVerdict, *, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> tuple[ResourceChange, ...]:
    changes = []
    for logical_id, resource in sorted(verdict.resources.items()):
        kind = _KINDS[resource.impact]
        at_risk = kind in {"replaced", "may be replaced", "removed"}
        changes.append(
            ResourceChange(
                logical_id=logical_id,
                resource_type=resource.resource_type,
                kind=kind,
                properties=resource.properties,
                replacing=resource.replacing,
                causes=resource.causes,
                retained=resource.impact == "WILL_ORPHAN",
                consequence=_consequence(logical_id, kind, old=old, new=new) if at_risk else "",
            )
        )
    return tuple(changes)


def _has_changes(verdict: StackVerdict) -> bool:
    return any(
        (
            verdict.resources,
            verdict.outputs,
            verdict.statements_added,
            verdict.statements_removed,
            verdict.managed_policies_added,
            verdict.managed_policies_removed,
            verdict.rules_added,
            verdict.rules_removed,
        )
    )


# RDS keeps a DB subnet group in the VPC it was made in: ModifyDBSubnetGroup refuses another
# VPC's subnets ("The new Subnets are not in the same Vpc as the existing subnet group"), and an
# Aurora cluster reaches a new VPC only by a restore there.
SUBNET_GROUP_REFUSAL = (
    "RDS refuses to move a DB subnet group to a new VPC's subnets, so the update fails and the "
    "stack rolls back; an Aurora cluster moves to a new VPC only by restoring a snapshot there"
)


def _with_refusals(stacks: list[StackDiff], templates: Templates) -> list[StackDiff]:
    """Mark the in-place updates AWS is known to refuse; ``templates`` are the new ones."""
    replaced = {
        (stack.stack, change.logical_id)
        for stack in stacks
        for change in stack.changes
        if change.kind in {"replaced", "may be replaced"}
    }

    def moves_vpc(stack: str, cause: str) -> bool:
        """Whether ``cause`` is a replaced subnet whose VPC is replaced too (its new self is in
        another VPC)."""
        owner, _, logical_id = cause.rpartition("/")
        owner = owner or stack
        subnet = templates.get(owner, {}).get("Resources", {}).get(logical_id, {})
        if subnet.get("Type") != "AWS::EC2::Subnet" or (owner, logical_id) not in replaced:
            return False
        vpc = subnet.get("Properties", {}).get("VpcId")
        return isinstance(vpc, Mapping) and (owner, vpc.get("Ref")) in replaced

    def refusal(stack: str, change: ResourceChange) -> str:
        if change.resource_type != "AWS::RDS::DBSubnetGroup" or change.kind != "changed":
            return ""
        return SUBNET_GROUP_REFUSAL if any(moves_vpc(stack, c) for c in change.causes) else ""

    return [
        replace(
            stack,
            changes=tuple(
                replace(change, refusal=refusal(stack.stack, change)) for change in stack.changes
            ),
        )
        for stack in stacks
    ]


def diff_environments(sides: Mapping[str, tuple[Templates, Templates]]) -> list[EnvironmentDiff]:
    """{environment: (old stacks, new stacks)} diffed in one run of CDK's engine: stack by stack,
    a stack missing on one side is added/removed."""
    pairs: dict[str, StackPair] = {}
    for environment, (old, new) in sides.items():
        for name in old.keys() | new.keys():
            if name in pairs:
                message = (
                    f"stack {name} is in environments {pairs[name].environment}, {environment}"
                )
                raise CdkDiffError(message, exit_code=BAD_INPUT)
            pairs[name] = StackPair(old=old.get(name), new=new.get(name), environment=environment)
    verdicts = diff_stacks(pairs)
    diffs = []
    for environment, (old, new) in sides.items():
        stacks = []
        for name in sorted(old.keys() | new.keys()):
            verdict = verdicts[name]
            kind: Literal["added", "removed", "changed"] = (
                "added" if name not in old else "removed" if name not in new else "changed"
            )
            if kind != "changed" or _has_changes(verdict):
                changes = _changes(verdict, old=old.get(name), new=new.get(name))
                stack = StackDiff(stack=name, kind=kind, changes=changes, verdict=verdict)
                stacks.append(stack)
        diffs.append(
            EnvironmentDiff(environment=environment, stacks=tuple(_with_refusals(stacks, new)))
        )
    return diffs


def diff_environment(environment: str, old: Templates, new: Templates) -> EnvironmentDiff:
    """Stack by stack changes of one environment; a stack missing on one side is added/removed."""
    (diff,) = diff_environments({environment: (old, new)})
    return diff


def diff_assemblies(base: Path, head: Path) -> list[EnvironmentDiff]:
    base_stacks, head_stacks = stacks_by_environment(base), stacks_by_environment(head)
    ordered = list(head_stacks) + [env for env in base_stacks if env not in head_stacks]
    return diff_environments(
        {env: (base_stacks.get(env, {}), head_stacks.get(env, {})) for env in ordered}
    )


def _because(causes: tuple[str, ...]) -> str:
    verb = "is" if len(causes) == 1 else "are"
    return ", because " + ", ".join(f"`{cause}`" for cause in causes) + f" {verb} replaced"


def _row(change: ResourceChange) -> str:
    flags = []
    if change.iam:
        flags.append("IAM")
    if change.security_group:
        flags.append("security group")
    if change.data_at_risk:
        flags.append(f"**STATEFUL: {change.consequence or 'data may be lost'}**")
    if change.refusal:
        flags.append(f"**WILL FAIL: {change.refusal}**")
    if change.retained:
        flags.append("retained: stays in the account, outside the stack")
    what = f"{change.kind} `{change.logical_id}` ({change.resource_type})"
    if change.data_at_risk:
        what = f"**{what}**"
    details = f" — {', '.join(change.properties)}" if change.properties else ""
    # Name the culprits only when not every changed property is one.
    if change.replacing and set(change.replacing) != set(change.properties):
        details += f" (replacement: {', '.join(change.replacing)})"
    if change.causes:
        details += _because(change.causes)
    flag_text = f" [{'; '.join(flags)}]" if flags else ""
    return f"- {what}{details}{flag_text}"


def _outputs_row(outputs: Mapping[str, str]) -> list[str]:
    by_kind = {
        kind: ", ".join(f"`{name}`" for name, how in sorted(outputs.items()) if how == kind)
        for kind in ("added", "changed", "removed")
    }
    parts = [f"{kind} {names}" for kind, names in by_kind.items() if names]
    return [f"- outputs {'; '.join(parts)}"] if parts else []


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or " "


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    if not rows:
        return []
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _iam_table(stacks: tuple[StackDiff, ...]) -> list[str]:
    rows: list[tuple[str, ...]] = []
    for stack in stacks:
        verdict, name = stack.verdict, f"`{stack.stack}`"
        for sign, statements in (
            ("+", verdict.statements_added),
            ("-", verdict.statements_removed),
        ):
            rows += [
                (sign, name, s.effect, s.actions, s.resources, s.principals, s.condition)
                for s in statements
            ]
        for sign, policies in (
            ("+", verdict.managed_policies_added),
            ("-", verdict.managed_policies_removed),
        ):
            rows += [
                (sign, name, "managed policy", policy, "", identity, "")
                for identity, policy in policies
            ]
    header = ("", "Stack", "Effect", "Actions", "Resources", "Principals", "Condition")
    return _table(header, rows)


def _security_group_table(stacks: tuple[StackDiff, ...]) -> list[str]:
    rows: list[tuple[str, ...]] = []
    for stack in stacks:
        for sign, rules in (("+", stack.verdict.rules_added), ("-", stack.verdict.rules_removed)):
            rows += [
                (sign, f"`{stack.stack}`", r.group, r.direction, r.peer, r.ports) for r in rules
            ]
    return _table(("", "Stack", "Group", "Direction", "Peer", "Ports"), rows)


# CodePipeline rolls a stage back only to an execution of the current pipeline structure.
RESETS_ROLLBACK = (
    "**The pipeline's structure changes: this resets the rollback history** (automatic stage "
    "rollback reaches only executions started after this change deploys)."
)


def changes_pipeline_structure(diffs: list[EnvironmentDiff]) -> bool:
    return any(change.resource_type == PIPELINE_TYPE for env in diffs for change in env.changes)


# What a diff of synthesized templates cannot see, said once above every report.
OFFLINE_LIMITS = (
    "_Offline diff of the templates: values resolved at deploy time (parameters, SSM parameters, "
    "other stacks' outputs) and the state of the deployed resources are not known here._"
)
_COUNTED: tuple[Kind, ...] = ("added", "changed", "replaced", "may be replaced", "removed")


WILL_FAIL = "**This deploy would fail in this environment: see the lines marked WILL FAIL.**"


def _environment(env: EnvironmentDiff) -> list[str]:
    changes = env.changes
    counts = {kind: sum(c.kind == kind for c in changes) for kind in _COUNTED}
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "no changes"
    lines = [f"### {env.environment}: {summary}"]
    if any(c.data_at_risk for c in changes):
        lines.append("**Stateful resources would be replaced or removed in this environment.**")
    if any(c.refusal for c in changes):
        lines.append(WILL_FAIL)
    if any(c.iam for c in changes):
        lines.append("IAM permissions change in this environment.")
    if any(c.security_group for c in changes):
        lines.append("Security groups change in this environment.")
    for stack in env.stacks:
        lines.append(f"- stack `{stack.stack}` {stack.kind}")
        lines += ["  " + _row(change) for change in stack.changes]
        lines += ["  " + row for row in _outputs_row(stack.verdict.outputs)]
    lines.append("")
    iam, groups = _iam_table(env.stacks), _security_group_table(env.stacks)
    lines += ["IAM statements:", "", *iam] if iam else []
    lines += ["Security-group rules:", "", *groups] if groups else []
    return lines


def render_markdown(diffs: list[EnvironmentDiff]) -> str:
    lines = ["## Template diff", "", OFFLINE_LIMITS, ""]
    if changes_pipeline_structure(diffs):
        lines += [RESETS_ROLLBACK, ""]
    for env in diffs:
        lines += _environment(env)
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
    try:
        diffs = diff_assemblies(base, head)
    except CdkDiffError as error:
        print(f"template diff: {error}", file=sys.stderr)
        return error.exit_code
    print(render_markdown(diffs), end="")
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
