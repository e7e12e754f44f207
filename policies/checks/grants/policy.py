"""Reading resolved policy documents: who is allowed what, on which resource, under which condition.

Only what the service-grant checks need: Allow statements for a service principal, IAM's
case-insensitive action wildcards, resource patterns, and condition keys with their values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from policies.checks.grants.model import GENERATED


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def glob_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """IAM's `*` and `?` wildcards (everything else literal)."""
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.fullmatch(regex, value, flags | re.DOTALL) is not None


@dataclass(frozen=True)
class Condition:
    operator: str
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    raw: dict[str, Any]

    @property
    def allows(self) -> bool:
        return self.raw.get("Effect") == "Allow"

    def services(self) -> set[str]:
        principal = self.raw.get("Principal")
        if not isinstance(principal, dict):
            return set()
        return {s for s in as_list(principal.get("Service")) if isinstance(s, str)}

    def aws_principals(self) -> set[str]:
        principal = self.raw.get("Principal")
        if not isinstance(principal, dict):
            return set()
        return {s for s in as_list(principal.get("AWS")) if isinstance(s, str)}

    def covers_action(self, action: str) -> bool:
        if "NotAction" in self.raw:
            return not any(
                glob_match(str(a), action, case_sensitive=False)
                for a in as_list(self.raw["NotAction"])
            )
        return any(
            glob_match(str(a), action, case_sensitive=False)
            for a in as_list(self.raw.get("Action"))
        )

    def resources(self) -> list[str]:
        return [str(r) for r in as_list(self.raw.get("Resource"))]

    def covers_resource(self, resource: str) -> bool:
        if "NotResource" in self.raw:
            return False
        return any(glob_match(pattern, resource) for pattern in self.resources())

    def conditions(self) -> list[Condition]:
        found = []
        for operator, entries in (self.raw.get("Condition") or {}).items():
            for key, values in (entries or {}).items():
                texts = tuple(str(v) for v in as_list(values))
                found.append(Condition(operator=operator, key=key.lower(), values=texts))
        return found


def statements(document: Any) -> list[Statement]:
    if not isinstance(document, dict):
        return []
    return [Statement(s) for s in as_list(document.get("Statement")) if isinstance(s, dict)]


def grants_to(
    document: Any, service: str, action: str, resource: str | None = None
) -> Iterator[Statement]:
    """Allow statements naming ``service`` as principal and covering ``action`` (and resource)."""
    for statement in statements(document):
        if not statement.allows or service not in statement.services():
            continue
        if not statement.covers_action(action):
            continue
        if resource is not None and not statement.covers_resource(resource):
            continue
        yield statement


def value_matches(condition: Condition, actual: Iterable[str]) -> bool:
    """Whether the condition holds for a request whose context key has one of ``actual``.

    The actual values are what the service sends; a literal that CloudFormation generates is
    GENERATED, which only a `*` in a pattern can match.
    """
    operator = condition.operator.removeprefix("ForAnyValue:").removesuffix("IfExists")
    like = operator in {"ArnLike", "StringLike"}
    equals = operator in {"ArnEquals", "StringEquals"}
    if not (like or equals):
        return False
    for value in actual:
        for pattern in condition.values:
            if equals and pattern == value and GENERATED not in value:
                return True
            if like and glob_match(pattern, value):
                return True
    return False


def pins_account(pattern: str, account: str, region: str | None) -> bool:
    """An ARN pattern that names this account (and region, for regional services) literally."""
    fields = pattern.split(":", 5)
    if len(fields) < 6:
        return False
    return fields[4] == account and (region is None or fields[3] == region)
