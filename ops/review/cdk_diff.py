"""CDK's own template diff engine (`@aws-cdk/cloudformation-diff`, what `cdk diff` prints), as data.

`diff_stacks` sends every stack pair of a diff to one Node process (cdk_diff.mjs beside this
file) and reads back, per stack: each resource's change impact as CloudFormation will apply it
(replacement judged on nested create-only paths and cascaded through Ref/GetAtt, and across the
stacks of an environment through Fn::GetStackOutput/Fn::ImportValue), the IAM statements and
managed policies added or removed, the security-group rules added or removed, and the outputs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from config.exit_codes import BAD_INPUT
from ops.common import CommandError

SCRIPT = Path(__file__).with_name("cdk_diff.mjs")

Impact = Literal[
    "WILL_CREATE",
    "WILL_UPDATE",
    "WILL_REPLACE",
    "MAY_REPLACE",
    "WILL_DESTROY",
    "WILL_ORPHAN",
    "WILL_IMPORT",
    "NO_CHANGE",
]


class CdkDiffError(CommandError):
    """The engine could not run: node or the npm package is missing (BAD_INPUT), or it failed."""


@dataclass(frozen=True, kw_only=True)
class StackPair:
    old: Mapping[str, Any] | None  # None: the stack does not exist before
    new: Mapping[str, Any] | None  # None: the stack is removed
    environment: str  # cross-stack references are followed only within one environment


@dataclass(frozen=True, kw_only=True)
class ResourceVerdict:
    resource_type: str
    impact: Impact
    properties: tuple[str, ...]  # changed properties, then other keys (DeletionPolicy, ...)
    replacing: tuple[str, ...]  # the properties whose change replaces the resource
    causes: tuple[str, ...]  # replaced resources it reads: "Vpc", or "<stack>/Vpc" across stacks


@dataclass(frozen=True, kw_only=True)
class Statement:
    effect: str
    actions: str
    resources: str
    principals: str
    condition: str


@dataclass(frozen=True, kw_only=True)
class Rule:
    direction: Literal["ingress", "egress"]
    group: str
    peer: str
    ports: str


@dataclass(frozen=True, kw_only=True)
class StackVerdict:
    resources: Mapping[str, ResourceVerdict]
    statements_added: tuple[Statement, ...] = ()
    statements_removed: tuple[Statement, ...] = ()
    managed_policies_added: tuple[tuple[str, str], ...] = ()  # (identity, policy ARN)
    managed_policies_removed: tuple[tuple[str, str], ...] = ()
    rules_added: tuple[Rule, ...] = ()
    rules_removed: tuple[Rule, ...] = ()
    outputs: Mapping[str, Literal["added", "removed", "changed"]] = field(default_factory=dict)


def _targets(targets: Mapping[str, Any]) -> str:
    values = ", ".join(targets["values"]) or "-"
    return f"NOT {values}" if targets["not"] else values


def _statement(raw: Mapping[str, Any]) -> Statement:
    condition = raw["condition"]
    return Statement(
        effect=raw["effect"],
        actions=_targets(raw["actions"]),
        resources=_targets(raw["resources"]),
        principals=_targets(raw["principals"]),
        condition=json.dumps(condition, sort_keys=True) if condition else "",
    )


def _stack_verdict(raw: Mapping[str, Any]) -> StackVerdict:
    iam, groups = raw["iam"], raw["securityGroups"]
    return StackVerdict(
        resources={
            logical_id: ResourceVerdict(
                resource_type=resource["type"],
                impact=resource["impact"],
                properties=tuple(resource["properties"]) + tuple(resource["other"]),
                replacing=tuple(resource["replacingProperties"]),
                causes=tuple(resource["causes"]),
            )
            for logical_id, resource in raw["resources"].items()
        },
        statements_added=tuple(map(_statement, iam["added"])),
        statements_removed=tuple(map(_statement, iam["removed"])),
        managed_policies_added=tuple(
            (a["identity"], a["policy"]) for a in iam["managedPoliciesAdded"]
        ),
        managed_policies_removed=tuple(
            (a["identity"], a["policy"]) for a in iam["managedPoliciesRemoved"]
        ),
        rules_added=tuple(Rule(**rule) for rule in groups["added"]),
        rules_removed=tuple(Rule(**rule) for rule in groups["removed"]),
        outputs=dict(raw["outputs"]),
    )


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise CdkDiffError(
            "node not found on PATH: the template diff runs CDK's diff engine in Node 20",
            exit_code=BAD_INPUT,
        )
    return node


def diff_stacks(pairs: Mapping[str, StackPair]) -> dict[str, StackVerdict]:
    """{stack name: verdict} for every pair, from one run of CDK's diff engine."""
    if not pairs:
        return {}
    batch = {
        stack: {"old": pair.old, "new": pair.new, "environment": pair.environment}
        for stack, pair in pairs.items()
    }
    completed = subprocess.run(  # noqa: S603 - node from PATH, our own script, JSON on stdin
        [_node(), str(SCRIPT)],
        input=json.dumps(batch),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["(no output)"])[-1]
        # The script exits BAD_INPUT when the package is not installed.
        code = BAD_INPUT if completed.returncode == BAD_INPUT else None
        raise CdkDiffError(f"CDK diff engine failed (exit {completed.returncode}): {last}", code)
    return {stack: _stack_verdict(raw) for stack, raw in json.loads(completed.stdout).items()}
