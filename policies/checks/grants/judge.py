"""Whether a policy document lets one AWS service act for one source, and only for ours.

A grant to a service principal is judged against the request the service really makes: the
condition keys it sends (per service, from its documentation) and their values for this
delivery. A statement conditioned on a key the service does not send never applies, so AWS
refuses the delivery: that is a finding, and so is a statement without any condition that
pins it to this account (any account's resource could then make the service use ours).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from policies.checks.grants.model import Assembly, ResourceId
from policies.checks.grants.policy import (
    Condition,
    Statement,
    pins_account,
    statements,
    value_matches,
)


@dataclass(frozen=True)
class GrantCheck:
    """One check: its id, what it asks, the docs it relies on, and its evaluation.

    ``evaluate`` returns, for every resource the check judges, the problems it found there
    (an empty list is a pass).
    """

    id: str
    name: str
    docs: tuple[str, ...]
    evaluate: Callable[[Assembly], Mapping[ResourceId, list[str]]]


@dataclass(frozen=True)
class RequestContext:
    """The condition keys a service sends in one request, with their values.

    ``scoping`` are the keys that tie the request to a source in our account (aws:SourceArn,
    an encryption context); the others (kms:ViaService) are allowed but scope nothing.
    """

    values: Mapping[str, set[str]]
    scoping: frozenset[str]
    account: str
    region: str | None
    stack_accounts: Mapping[str, str] = field(default_factory=dict)

    def pinned(self, condition: Condition) -> bool:
        if condition.key.endswith(":sourceaccount"):
            return all(value == self.account for value in condition.values)
        return all(self._pinned_value(value) for value in condition.values)

    def _pinned_value(self, value: str) -> bool:
        if value.startswith("${") and "/" in value:
            return self.stack_accounts.get(value[2:].split("/", 1)[0]) == self.account
        return pins_account(value, self.account, self.region)


def _relevant(
    document: Any, service: str, actions: Iterable[str], resource: str | None
) -> list[Statement]:
    return [
        s
        for s in statements(document)
        if s.allows
        and service in s.services()
        and any(s.covers_action(action) for action in actions)
        and (resource is None or s.covers_resource(resource))
    ]


def judge(
    document: Any,
    *,
    service: str,
    actions: list[str],
    resource: str | None,
    context: RequestContext,
) -> list[str]:
    """Problems with ``document``'s grant of ``actions`` to ``service`` in ``context``."""
    problems: list[str] = []
    applicable: list[Statement] = []
    for statement in _relevant(document, service, actions, resource):
        conditions = statement.conditions()
        unknown = sorted({c.key for c in conditions} - set(context.values))
        if unknown:
            problems.append(
                f"a grant to {service} is conditioned on {', '.join(unknown)}, which "
                f"{service} is not documented to send in this request: without it the grant "
                "never applies and AWS refuses the delivery"
            )
            continue
        if not any(c.key in context.scoping and context.pinned(c) for c in conditions):
            problems.append(
                f"a grant to {service} has no condition that pins it to this account "
                f"({', '.join(sorted(context.scoping))})"
            )
            continue
        if all(value_matches(c, context.values[c.key]) for c in conditions):
            applicable.append(statement)
    missing = [a for a in actions if not any(s.covers_action(a) for s in applicable)]
    if missing:
        problems.append(f"nothing allows {service} {', '.join(missing)}")
    return problems


def merge(problems: Iterable[tuple[str, str]]) -> list[str]:
    """One line per problem, naming the sources it was found for (first two, then a count)."""
    sources: dict[str, list[str]] = {}
    for problem, source in problems:
        sources.setdefault(problem, [])
        if source not in sources[problem]:
            sources[problem].append(source)
    lines = []
    for problem, found in sources.items():
        named = ", ".join(found[:2]) + (f" and {len(found) - 2} more" if len(found) > 2 else "")
        lines.append(f"{problem} (for {named})")
    return lines


def stack_accounts(assembly: Assembly) -> dict[str, str]:
    return {name: stack.account for name, stack in assembly.stacks.items()}


def canonical_document(assembly: Assembly, rid: ResourceId, document: Any) -> Any:
    """``document`` with every spelling of ``rid``'s ARN replaced by its literal ARN."""
    if isinstance(document, str):
        return assembly.canonical(rid, document)
    if isinstance(document, list):
        return [canonical_document(assembly, rid, item) for item in document]
    if isinstance(document, dict):
        return {key: canonical_document(assembly, rid, value) for key, value in document.items()}
    return document


def attached_policies(
    assembly: Assembly, rid: ResourceId, policy_type: str, targets_property: str
) -> list[tuple[ResourceId, Any]]:
    """(policy resource, resolved document) of every ``policy_type`` that names ``rid``."""
    identities = assembly.identities(rid)
    found = []
    for policy_id, policy in assembly.of_type(policy_type):
        stack = assembly.stacks[policy_id.stack]
        properties = policy.get("Properties") or {}
        named = assembly.resolve(stack, properties.get(targets_property))
        names = named if isinstance(named, list) else [named]
        if identities & {n for n in names if isinstance(n, str)}:
            document = assembly.resolve(stack, properties.get("PolicyDocument"))
            found.append((policy_id, canonical_document(assembly, rid, document)))
    return found
