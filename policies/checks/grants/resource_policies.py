"""Judging the resource policy of a topic or queue that AWS services deliver to."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from policies.checks.grants.deliveries import Delivery, deliveries, unresolved
from policies.checks.grants.judge import (
    RequestContext,
    attached_policies,
    judge,
    merge,
    stack_accounts,
)
from policies.checks.grants.model import Assembly, ResourceId

SOURCE_ARN = "aws:sourcearn"
SOURCE_ACCOUNT = "aws:sourceaccount"


@dataclass(frozen=True)
class PolicyKind:
    """Where a target's resource policy lives and what a delivery to it needs."""

    target_type: str
    policy_type: str
    targets_property: str
    action: str
    # service principal -> the condition keys it is documented to send to this kind of policy
    verified_keys: Mapping[str, frozenset[str]]


def context_for(assembly: Assembly, delivery: Delivery, keys: frozenset[str]) -> RequestContext:
    source_stack = assembly.stacks[delivery.source.stack]
    values = {SOURCE_ARN: delivery.source_values(assembly), SOURCE_ACCOUNT: {source_stack.account}}
    return RequestContext(
        values={key: values[key] for key in keys},
        scoping=keys,
        account=source_stack.account,
        region=None,
        stack_accounts=stack_accounts(assembly),
    )


def evaluate_targets(assembly: Assembly, kind: PolicyKind) -> dict[ResourceId, list[str]]:
    results: dict[ResourceId, list[tuple[str, str]]] = defaultdict(list)
    for delivery in deliveries(assembly, kind.target_type):
        source = f"the {delivery.what} of {delivery.source}"
        if delivery.target is None:
            results[delivery.source].append((unresolved(delivery), source))
            continue
        keys = kind.verified_keys.get(delivery.service)
        if keys is None:
            results[delivery.target].append(
                (
                    f"{delivery.service} delivers here but no documented condition keys are "
                    "known for it: add them to the check before relying on it",
                    source,
                )
            )
            continue
        policies = attached_policies(
            assembly, delivery.target, kind.policy_type, kind.targets_property
        )
        if len(policies) > 1:
            names = ", ".join(str(p) for p, _ in policies)
            results[delivery.target].append(
                (f"{names} each set its whole policy: the last one applied wins", source)
            )
        document = policies[0][1] if policies else None
        problems = judge(
            document,
            service=delivery.service,
            actions=[kind.action],
            resource=assembly.arn(delivery.target),
            context=context_for(assembly, delivery, keys),
        )
        results[delivery.target] += [(problem, source) for problem in problems]
        results.setdefault(delivery.target, [])
    return {rid: merge(problems) for rid, problems in results.items()}
