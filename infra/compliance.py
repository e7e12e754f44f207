"""Scoped, explained exceptions to the policy gate.

Every acknowledgment names exactly one rule and one resource, and says which compensating
control makes the finding acceptable. Blanket suppressions (a rule for a whole stack, a skip
without a reason) are impossible to write through these helpers, and tests reject them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from infra.escape_hatch import default_child

MIN_REASON_LENGTH = 20
NAG_PACK = "AwsSolutions"

# What these helpers have written into each resource's Metadata, by the resource's jsii object
# id (a Python proxy of a node object is not kept, so not a key) and metadata key: each call
# writes the whole entry again with its addition, without reading the entry back (a round trip
# to node per call). Only these helpers write these keys.
_written: dict[str, dict[str, Any]] = {}


def _add_to_metadata(
    resource: CfnResource, key: str, merge: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    entries = _written.setdefault(cast(Any, resource).__jsii_ref__.ref, {})
    entries[key] = merge(entries.get(key, {}))
    resource.add_metadata(key, entries[key])


def _checked_reason(rule: str, reason: str) -> str:
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(
            f"the reason for {rule} must name the compensating control "
            f"(at least {MIN_REASON_LENGTH} characters), got {reason!r}"
        )
    return reason.strip()


def _single_resource(construct: IConstruct) -> CfnResource:
    """The one CloudFormation resource a construct stands for (itself or its default child)."""
    if isinstance(construct, CfnResource):
        return construct
    child = default_child(construct)
    if isinstance(child, CfnResource):
        return child
    raise TypeError(f"{construct.node.path} is not a single CloudFormation resource")


def acknowledge_nag(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one cdk-nag AwsSolutions rule on one resource."""
    resource = _single_resource(construct)
    Validations.of(resource).acknowledge(
        Acknowledgment(id=f"{NAG_PACK}::{rule}", reason=_checked_reason(rule, reason))
    )


def skip_checkov(construct: IConstruct, check_id: str, reason: str) -> None:
    """Skip one checkov check on one resource, recorded in the template's resource metadata."""
    resource = _single_resource(construct)
    skip = {"id": check_id, "comment": _checked_reason(check_id, reason)}
    _add_to_metadata(
        resource, "checkov", lambda existing: {"skip": [*existing.get("skip", []), skip]}
    )


def _flatten(value: Any) -> str:
    """Render a resolved CloudFormation value the way cdk-nag names it in IAM5 findings."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((intrinsic, argument),) = value.items()
        if intrinsic == "Ref":
            return f"<{argument}>"
        if intrinsic == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if intrinsic == "Fn::Sub" and isinstance(argument, str):
            return re.sub(r"\$\{([^}]+)\}", r"<\1>", argument)
        if intrinsic == "Fn::Join":
            separator, parts = argument
            return str(separator).join(_flatten(part) for part in parts)
    raise ValueError(f"cannot name the IAM value {value!r} as cdk-nag does")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_findings(policy: iam.CfnPolicy) -> list[str]:
    """The IAM5 finding ids cdk-nag raises for the wildcards in ``policy``'s document."""
    document = Stack.of(policy).resolve(policy.policy_document)
    findings: list[str] = []
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        for action in _as_list(statement.get("Action", [])):
            if "*" in action:
                findings.append(f"Action::{action}")
        for resource in _as_list(statement.get("Resource", [])):
            flat = _flatten(resource)
            if "*" in flat:
                findings.append(f"Resource::{flat}")
    return list(dict.fromkeys(findings))


def acknowledge_wildcards(policy: iam.CfnPolicy, reason: str) -> None:
    """Acknowledge every AwsSolutions-IAM5 wildcard finding of one policy, with one reason.

    cdk-nag v3 acknowledges findings one by one; the findings are derived from the policy
    itself, so a wildcard added later is covered only if it lands in this same policy.
    """
    checked = _checked_reason("AwsSolutions-IAM5", reason)
    findings = wildcard_findings(policy)
    if not findings:
        raise ValueError(f"{policy.node.path} has no wildcard to acknowledge")
    Validations.of(policy).acknowledge(
        *(
            Acknowledgment(id=f"{NAG_PACK}::AwsSolutions-IAM5[{finding}]", reason=checked)
            for finding in findings
        )
    )


def ignore_cfn_lint(construct: IConstruct, rule: str, reason: str) -> None:
    """Ignore one cfn-lint rule on one resource (cfn-lint reads Metadata.cfn-lint)."""
    resource = _single_resource(construct)
    checked = _checked_reason(rule, reason)

    def merge(existing: dict[str, Any]) -> dict[str, Any]:
        ignored = [*existing.get("config", {}).get("ignore_checks", []), rule]
        reasons = {**existing.get("reasons", {}), rule: checked}
        return {"config": {"ignore_checks": ignored}, "reasons": reasons}

    _add_to_metadata(resource, "cfn-lint", merge)


BASIC_EXECUTION_ROLE = (
    "arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
)


def explain_cdk_handler(handler: IConstruct, *, owner: str, calls: str) -> None:
    """Reasons for the findings on a Lambda function CDK adds to run ``owner``'s custom resource.

    ``handler`` holds the function (``Resource``, or itself) and its ``ServiceRole``;
    CloudFormation alone invokes it, synchronously, while it deploys the stack. ``calls`` says
    what the function does, for the reason it runs outside the VPC.
    """
    acknowledge_nag(
        handler.node.find_child("ServiceRole"),
        f"AwsSolutions-IAM4[Policy::{BASIC_EXECUTION_ROLE}]",
        f"AWSLambdaBasicExecutionRole on CDK's {owner} handler grants only CloudWatch Logs "
        "writes for its own log group; what it does in AWS is a separate, scoped policy",
    )
    function = handler.node.try_find_child("Resource") or handler
    skip_checkov(
        function,
        "CKV_AWS_115",
        "runs only when CloudFormation creates or updates the stack; reserving concurrency "
        "would take capacity from the account pool for no protection",
    )
    skip_checkov(
        function,
        "CKV_AWS_116",
        "invoked synchronously by CloudFormation, which records every failure in the stack "
        "events and rolls back; a DLQ would never receive anything",
    )
    skip_checkov(
        function,
        "CKV_AWS_117",
        f"it only {calls}; running it in the VPC would need NAT or endpoints for no isolation gain",
    )
    ignore_cfn_lint(
        function,
        "W3005",
        f"the redundant DependsOn on its role is emitted by CDK's {owner} and is harmless",
    )
