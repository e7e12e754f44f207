"""IAM policy evaluation, as AWS documents it, for the run-time IAM harness.

moto's own evaluator (moto/iam/access_control.py) checks the action only: it compares every
statement's Resource with "*" and treats an unmet Condition of an Allow as an explicit deny,
so a least-privilege policy would be refused everywhere. The harness keeps moto's enforcement
machinery (signatures, identities from access keys, AccessDenied before dispatch) and decides
with this module instead: Action/NotAction, Resource/NotResource, Principal/NotPrincipal and
the condition operators our policies use.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

ContextValue = str | Sequence[str]


class UnsupportedPolicyError(Exception):
    """A policy element the harness cannot evaluate faithfully: fail loudly, never guess."""


@dataclass(frozen=True)
class Caller:
    """Who makes the request: an assumed-role session (or an IAM user) of one account."""

    arn: str  # arn:aws:sts::<account>:assumed-role/<role>/<session> or an IAM user ARN
    account: str

    @property
    def role_arn(self) -> str | None:
        match = re.fullmatch(r"arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/.+", self.arn)
        if not match:
            return None
        return f"arn:{match[1]}:iam::{match[2]}:role/{match[3]}"

    def identifiers(self) -> set[str]:
        """Principal values that name this caller itself (not merely its account)."""
        found = {self.arn}
        if self.role_arn:
            found.add(self.role_arn)
        return found

    def account_identifiers(self) -> set[str]:
        return {self.account, f"arn:aws:iam::{self.account}:root"}


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    caller: Caller
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """What one set of documents says about a request."""

    allow: bool = False
    deny: bool = False
    # For resource policies: the Allow named the caller itself, or only its account.
    allow_direct: bool = False
    allow_via_account: bool = False
    statements: tuple[str, ...] = ()  # Sids (or indexes) of the statements that applied


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


@cache
def _wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.compile(f"^{body}$", (re.IGNORECASE if ignore_case else 0) | re.DOTALL)


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard matching: * any run of characters (slashes included), ? one character."""
    return _wildcard(pattern, ignore_case=ignore_case).match(value) is not None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise UnsupportedPolicyError(f"condition value {value!r} is not a string, number or boolean")


# -------------------------------------------------------------------- conditions


def _compare(base: str, expected: str, actual: str) -> bool:
    if "${" in expected:
        raise UnsupportedPolicyError(f"policy variables are not evaluated: {expected!r}")
    if base == "StringEquals":
        return actual == expected
    if base == "StringEqualsIgnoreCase":
        return actual.lower() == expected.lower()
    if base == "StringLike":
        return matches(expected, actual)
    if base in {"ArnEquals", "ArnLike"}:
        return matches(expected, actual)
    if base == "Bool":
        return actual.lower() == expected.lower()
    if base.startswith("Numeric"):
        left, right = float(actual), float(expected)
        return {
            "NumericEquals": left == right,
            "NumericLessThan": left < right,
            "NumericLessThanEquals": left <= right,
            "NumericGreaterThan": left > right,
            "NumericGreaterThanEquals": left >= right,
        }[base]
    raise UnsupportedPolicyError(f"condition operator {base!r} is not evaluated by the harness")


_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, Any]) -> bool:
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    expected_values = [_text(value) for value in as_list(expected)]
    present = key in context
    actual_values = [str(value) for value in as_list(context[key])] if present else []
    if name == "Null":
        wants_absent = expected_values[0].lower() == "true"
        return wants_absent != present
    if not present:
        # Absent key: only IfExists, negated operators and ForAllValues hold.
        return if_exists or name in _NEGATED or qualifier == "ForAllValues"
    negated = name in _NEGATED
    base = _NEGATED.get(name, name)

    def one(actual: str) -> bool:
        hit = any(_compare(base, expected_value, actual) for expected_value in expected_values)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(actual) for actual in actual_values)
    return any(one(actual) for actual in actual_values)


def conditions_hold(conditions: Mapping[str, Any] | None, context: Mapping[str, Any]) -> bool:
    for operator, keys in (conditions or {}).items():
        for key, expected in keys.items():
            if not _condition_holds(operator, key, expected, context):
                return False
    return True


# -------------------------------------------------------------------- statements


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(
            matches(str(pattern), action, ignore_case=True)
            for pattern in as_list(statement["NotAction"])
        )
    return any(
        matches(str(pattern), action, ignore_case=True)
        for pattern in as_list(statement.get("Action", []))
    )


def _resource_matches(
    statement: Mapping[str, Any], resource: str, *, resource_policy: bool
) -> bool:
    if "NotResource" in statement:
        return not any(matches(str(p), resource) for p in as_list(statement["NotResource"]))
    if "Resource" not in statement:
        # Trust and key policies may omit it (it means "this resource"); identity policies
        # without a Resource are invalid and grant nothing.
        return resource_policy
    return any(matches(str(pattern), resource) for pattern in as_list(statement["Resource"]))


def _principal_values(principal: Any) -> tuple[list[str], bool]:
    """The AWS principal values of a Principal element, and whether it is "everyone"."""
    if principal == "*":
        return [], True
    if not isinstance(principal, Mapping):
        raise UnsupportedPolicyError(f"principal {principal!r} is not evaluated by the harness")
    values = [str(value) for value in as_list(principal.get("AWS", []))]
    return values, "*" in values


def _principal_match(statement: Mapping[str, Any], caller: Caller) -> tuple[bool, bool]:
    """(names the caller itself or everyone, names only the caller's account)."""
    if "NotPrincipal" in statement:
        values, everyone = _principal_values(statement["NotPrincipal"])
        named = everyone or bool(caller.identifiers() & set(values))
        named = named or bool(caller.account_identifiers() & set(values))
        return (not named, False)
    values, everyone = _principal_values(statement.get("Principal", {}))
    if everyone or caller.identifiers() & set(values):
        return True, False
    return False, bool(caller.account_identifiers() & set(values))


def statements(document: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(document, str):
        document = json.loads(document)
    for index, statement in enumerate(as_list(document.get("Statement", []))):
        yield str(statement.get("Sid") or f"#{index}"), statement


def evaluate(
    documents: Iterable[Any], request: Request, *, resource_policy: bool = False
) -> Verdict:
    """What ``documents`` (identity policies, or one resource policy) say about ``request``."""
    allow = deny = direct = via_account = False
    applied: list[str] = []
    for document in documents:
        for sid, statement in statements(document):
            if not _action_matches(statement, request.action):
                continue
            if not _resource_matches(statement, request.resource, resource_policy=resource_policy):
                continue
            if resource_policy:
                itself, account = _principal_match(statement, request.caller)
                if not (itself or account):
                    continue
            else:
                itself, account = True, False
            if not conditions_hold(statement.get("Condition"), request.context):
                continue
            applied.append(sid)
            if statement.get("Effect") == "Deny":
                deny = True
            elif statement.get("Effect") == "Allow":
                allow = True
                direct = direct or itself
                via_account = via_account or account
    return Verdict(
        allow=allow,
        deny=deny,
        allow_direct=direct,
        allow_via_account=via_account,
        statements=tuple(applied),
    )


def decide(
    identity: Verdict,
    resource: Verdict | None,
    *,
    same_account: bool,
    resource_policy_required: bool,
) -> tuple[bool, str]:
    """Combine the caller's identity policies with the resource's policy, as AWS does.

    Same account: an allow in either suffices, except where the resource policy is the
    gate (role trust policies, KMS key policies): there it must allow, and an allow that
    names only the account delegates to the identity policies. Across accounts, both must
    allow. An explicit deny anywhere wins.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
    https://docs.aws.amazon.com/kms/latest/developerguide/determining-access.html
    """
    if identity.deny or (resource is not None and resource.deny):
        return False, "explicit deny"
    if resource is None:
        return (True, "identity policy") if identity.allow else (False, "no identity policy allows")
    return _decide_with_resource_policy(
        identity,
        resource,
        same_account=same_account,
        resource_policy_required=resource_policy_required,
    )


def _decide_with_resource_policy(
    identity: Verdict,
    resource: Verdict,
    *,
    same_account: bool,
    resource_policy_required: bool,
) -> tuple[bool, str]:
    """``decide`` once no policy denies and the resource has a policy, in AWS's order."""
    named = resource.allow_direct or resource.allow_via_account
    if resource_policy_required and not named:
        return False, "the resource policy does not allow the caller or its account"
    if same_account and resource.allow_direct:
        return True, "resource policy names the caller"
    if same_account and not resource_policy_required:
        return (
            (True, "identity policy")
            if identity.allow
            else (False, "neither the identity nor the resource policy allows")
        )
    if not named:
        return False, "the resource policy does not allow the caller's account"
    return (
        (True, "resource policy and identity policy")
        if identity.allow
        else (False, "no identity policy allows")
    )
