"""CKV_TODO_13: a Lambda function that an AWS service invokes has a permission for it, scoped.

EventBridge targets and SNS subscriptions invoke the function as the service principal; the
function's resource policy (AWS::Lambda::Permission) must allow it, with SourceArn naming the
rule or topic. Any permission for an AWS service without SourceArn or SourceAccount would let
that service invoke the function for any account's resource.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from policies.checks.grants.deliveries import deliveries, unresolved
from policies.checks.grants.judge import GrantCheck, judge, merge
from policies.checks.grants.model import Assembly, ResourceId
from policies.checks.grants.resource_policies import SOURCE_ARN, context_for

DOCS = (
    "https://docs.aws.amazon.com/lambda/latest/dg/permissions-function-services.html",
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html",
)
VERIFIED_KEYS = {
    "events.amazonaws.com": frozenset({SOURCE_ARN}),
    "sns.amazonaws.com": frozenset({SOURCE_ARN}),
}


def _permissions(assembly: Assembly, function: ResourceId) -> list[dict[str, Any]]:
    """The function's permissions, written as the statements of its resource policy."""
    identities = assembly.identities(function)
    found = []
    for permission_id, permission in assembly.of_type("AWS::Lambda::Permission"):
        stack = assembly.stacks[permission_id.stack]
        properties = permission.get("Properties") or {}
        if assembly.text(stack, properties.get("FunctionName")) not in identities:
            continue
        condition: dict[str, dict[str, str]] = {}
        if "SourceArn" in properties:
            condition["ArnLike"] = {"aws:SourceArn": assembly.text(stack, properties["SourceArn"])}
        if "SourceAccount" in properties:
            condition["StringEquals"] = {
                "aws:SourceAccount": assembly.text(stack, properties["SourceAccount"])
            }
        found.append(
            {
                "Effect": "Allow",
                "Principal": {"Service": assembly.text(stack, properties.get("Principal"))},
                "Action": assembly.text(stack, properties.get("Action")),
                "Resource": assembly.arn(function),
                **({"Condition": condition} if condition else {}),
            }
        )
    return found


def evaluate(assembly: Assembly) -> dict[ResourceId, list[str]]:
    results: dict[ResourceId, list[tuple[str, str]]] = defaultdict(list)
    for function, _ in assembly.of_type("AWS::Lambda::Function"):
        for statement in _permissions(assembly, function):
            service = statement["Principal"]["Service"]
            if service.endswith(".amazonaws.com") and "Condition" not in statement:
                message = f"its permission for {service} has neither SourceArn nor SourceAccount"
                results[function].append((message, "any source"))
    for delivery in deliveries(assembly, "AWS::Lambda::Function"):
        source = f"the {delivery.what} of {delivery.source}"
        if delivery.target is None:
            results[delivery.source].append((unresolved(delivery), source))
            continue
        keys = VERIFIED_KEYS[delivery.service]
        problems = judge(
            {"Statement": _permissions(assembly, delivery.target)},
            service=delivery.service,
            actions=["lambda:InvokeFunction"],
            resource=assembly.arn(delivery.target),
            context=context_for(assembly, delivery, keys),
        )
        results[delivery.target] += [(problem, source) for problem in problems]
        results.setdefault(delivery.target, [])
    return {rid: merge(problems) for rid, problems in results.items()}


CHECK = GrantCheck(
    id="CKV_TODO_13",
    name="Ensure Lambda functions that AWS services invoke allow them, scoped by SourceArn",
    docs=DOCS,
    evaluate=evaluate,
)
