"""CKV_TODO_7: no IAM statement allows every action, or writes on every resource.

An Allow statement fails when it grants `*` or a whole service (`svc:*`), uses NotAction, or
pairs `Resource: "*"` (or NotResource) with any action that is not read-only. Read-only means
the action name starts with one of READ_PREFIXES (`s3:Get*` is read, `kms:GenerateDataKey*`
is not).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from checkov.cloudformation.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult

READ_PREFIXES = ("List", "Get", "Describe", "BatchGet", "Head", "Query", "Scan")
_SERVICE_WIDE = re.compile(r"^[A-Za-z0-9-]+:\*$")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def documents(resource_type: str, properties: dict[str, Any]) -> Iterator[Any]:
    """The policy documents a resource carries (a role's inline policies included)."""
    if resource_type == "AWS::IAM::Role":
        for policy in _as_list(properties.get("Policies") or []):
            if isinstance(policy, dict):
                yield policy.get("PolicyDocument")
    else:
        yield properties.get("PolicyDocument")


def is_write(action: str) -> bool:
    if action == "*":
        return True
    _, _, name = action.partition(":")
    return not name.startswith(READ_PREFIXES)


def statement_is_too_broad(statement: dict[str, Any]) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement:
        return True
    # Intrinsic functions (e.g. Fn::If) are not literals this check can judge.
    actions = [a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)]
    if any(action == "*" or _SERVICE_WIDE.match(action) for action in actions):
        return True
    every_resource = "NotResource" in statement or "*" in _as_list(statement.get("Resource", []))
    return every_resource and any(is_write(action) for action in actions)


class IamNoWildcardWrites(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                "Ensure IAM statements allow neither all actions (* or svc:*) nor writes "
                "on Resource *"
            ),
            id="CKV_TODO_7",
            categories=(CheckCategories.IAM,),
            supported_resources=("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        properties = conf.get("Properties") or {}
        self.evaluated_keys = ["Properties/PolicyDocument/Statement", "Properties/Policies"]
        for document in documents(self.entity_type, properties):
            if not isinstance(document, dict):
                continue
            for statement in _as_list(document.get("Statement", [])):
                if isinstance(statement, dict) and statement_is_too_broad(statement):
                    return CheckResult.FAILED
        return CheckResult.PASSED


check = IamNoWildcardWrites()
