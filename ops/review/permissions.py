"""Permissions-broadening check: which permissions would a change really add?

Policies are flattened into (action, resource, principal, condition) grants per resource
(IAM policies, roles' inline and managed policies, trust policies, key, bucket, queue, topic
and repository policies). A grant of the new template broadens the permissions unless a grant
of the deployed template on the same resource already covers it: same principal, the same or
no condition, an action pattern and a resource pattern that include it (so reordering, merging
or narrowing statements is no broadening). A Deny statement the change removes is a
broadening too. On a never-deployed environment every grant is new.

A *wildcard* grant gives every action of a service (``*``, ``svc:*``), every resource (``*``,
or an ARN whose resource part is ``*``) or every principal. In a key policy ``Resource: "*"``
means the key itself, so it is no wildcard there. Some wildcards are what AWS requires (the
key policy's statement for its own account, actions that have no resource-level permission):
those are listed, each with the reason, in policies/required-wildcards.yaml and matched there
exactly. Before production (``--fail-on-wildcard``) any other new wildcard fails the check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config.exit_codes import BAD_INPUT
from config.paths import ROOT
from ops.common import CommandError

REQUIRED_WILDCARDS_FILE = ROOT / "policies" / "required-wildcards.yaml"

# Where each resource type keeps its policy documents (property paths, "*" for lists).
_POLICY_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "AWS::IAM::Policy": (("PolicyDocument",),),
    "AWS::IAM::ManagedPolicy": (("PolicyDocument",),),
    "AWS::IAM::Role": (("AssumeRolePolicyDocument",), ("Policies", "*", "PolicyDocument")),
    "AWS::IAM::User": (("Policies", "*", "PolicyDocument"),),
    "AWS::KMS::Key": (("KeyPolicy",),),
    "AWS::S3::BucketPolicy": (("PolicyDocument",),),
    "AWS::SQS::QueuePolicy": (("PolicyDocument",),),
    "AWS::SNS::TopicPolicy": (("PolicyDocument",),),
    "AWS::ECR::Repository": (("RepositoryPolicyText",),),
    "AWS::SecretsManager::ResourcePolicy": (("ResourcePolicy",),),
}
# Resource policies whose Resource "*" names the resource itself.
_SELF_RESOURCE_TYPES = frozenset({"AWS::KMS::Key"})
_WHOLE_SERVICE = re.compile(r"^(\*|[a-z0-9-]+:\*)$", re.IGNORECASE)
_ANY_RESOURCE_ARN = re.compile(r"^arn:[^:]*:[^:]*:[^:]*:[^:]*:\*$")

Location = tuple[str, str]  # (account, region) of the stack a template is deployed as


@dataclass(frozen=True, order=True)
class Grant:
    resource_id: str
    action: str
    target: str  # the policy's Resource, or "-" for resource policies without one
    principal: str  # "-" for identity policies
    condition: str
    resource_type: str = ""
    effect: str = "Allow"  # "Deny": a deny statement (reported when a change removes it)

    def __str__(self) -> str:
        who = f" to {self.principal}" if self.principal != "-" else ""
        when = f" when {self.condition}" if self.condition != "-" else ""
        verb = "allow" if self.effect == "Allow" else "no longer deny"
        return f"{self.resource_id}: {verb} {self.action} on {self.target}{who}{when}"

    @property
    def wildcard(self) -> bool:
        if self.effect != "Allow":
            return False
        any_resource = self.target == "*" and self.resource_type not in _SELF_RESOURCE_TYPES
        return (
            bool(_WHOLE_SERVICE.match(self.action))
            or any_resource
            or bool(_ANY_RESOURCE_ARN.match(self.target))
            or '"*"' in self.principal
            or self.principal == "*"
        )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _pseudo(value: Any, location: Location | None) -> Any:
    """Pseudo parameters and joins of literals resolved, so a grant reads as AWS sees it."""
    if isinstance(value, list):
        return [_pseudo(item, location) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and "Ref" in value and location is not None:
        account, region = location
        known = {"AWS::Partition": "aws", "AWS::AccountId": account, "AWS::Region": region}
        return known.get(value["Ref"], value)
    if len(value) == 1 and value.get("Ref") == "AWS::Partition":
        return "aws"
    resolved = {key: _pseudo(item, location) for key, item in value.items()}
    join = resolved.get("Fn::Join") if len(resolved) == 1 else None
    if isinstance(join, list) and len(join) == 2 and isinstance(join[1], list):
        delimiter, parts = join
        if all(isinstance(part, str) for part in parts):
            return str(delimiter).join(parts)
    return resolved


def _canonical(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _documents(properties: dict[str, Any], path: tuple[str, ...]) -> Iterator[Any]:
    if not path:
        yield properties
        return
    head, *rest = path
    if head == "*":
        for item in _as_list(properties):
            if isinstance(item, dict):
                yield from _documents(item, tuple(rest))
        return
    if isinstance(properties, dict) and head in properties:
        yield from _documents(properties[head], tuple(rest))


def _statements(document: Any) -> Iterator[dict[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return
    if isinstance(document, dict):
        yield from (s for s in _as_list(document.get("Statement", [])) if isinstance(s, dict))


def _statement_grants(
    logical_id: str, resource_type: str, statement: dict[str, Any], location: Location | None
) -> Iterator[Grant]:
    statement = _pseudo(statement, location)
    principal = _canonical(statement.get("Principal", "-"))
    condition = _canonical(statement.get("Condition", "-"))
    for action in _as_list(statement.get("Action", statement.get("NotAction", []))):
        action_text = _canonical(action)
        if "NotAction" in statement:
            action_text = f"everything but {action_text}"
        for target in _as_list(statement.get("Resource", "-")):
            yield Grant(
                logical_id,
                action_text,
                _canonical(target),
                principal,
                condition,
                resource_type,
                "Deny" if statement.get("Effect") == "Deny" else "Allow",
            )


def statement_grants(template: dict[str, Any], location: Location | None = None) -> set[Grant]:
    """Every grant of every policy-bearing resource in a template, allows and denies."""
    found: set[Grant] = set()
    for logical_id, resource in template.get("Resources", {}).items():
        resource_type = resource["Type"]
        properties = resource.get("Properties", {})
        for path in _POLICY_PATHS.get(resource_type, ()):
            for document in _documents(properties, path):
                for statement in _statements(document):
                    if statement.get("Effect") in {"Allow", "Deny"}:
                        found.update(
                            _statement_grants(logical_id, resource_type, statement, location)
                        )
        for arn in _as_list(properties.get("ManagedPolicyArns", [])):
            policy = _canonical(_pseudo(arn, location))
            found.add(Grant(logical_id, "managed policy", policy, "-", "-", resource_type))
    return found


def grants(template: dict[str, Any], location: Location | None = None) -> set[Grant]:
    """Every Allow grant of every policy-bearing resource in a template."""
    return {grant for grant in statement_grants(template, location) if grant.effect == "Allow"}


@cache
def _pattern(text: str) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(f"^{body}$", re.DOTALL)


def _includes(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Does IAM pattern ``pattern`` match everything ``value`` (itself maybe a pattern) does?"""
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    return pattern == value or _pattern(pattern).match(value) is not None


def _covers(old: Grant, new: Grant) -> bool:
    return (
        old.resource_id == new.resource_id
        and old.principal == new.principal
        and old.condition in {"-", new.condition}
        and _includes(old.action, new.action, ignore_case=True)
        and (old.target == new.target or _includes(old.target, new.target))
    )


def broadened(
    old: dict[str, Any], new: dict[str, Any], location: Location | None = None
) -> list[Grant]:
    """Allows the new template gives that no grant of the old one covers, and the denies it
    drops, sorted."""
    old_grants, new_grants = statement_grants(old, location), statement_grants(new, location)
    old_allows = [grant for grant in old_grants if grant.effect == "Allow"]
    added = [
        grant
        for grant in new_grants
        if grant.effect == "Allow" and not any(_covers(held, grant) for held in old_allows)
    ]
    dropped_denies = [grant for grant in old_grants - new_grants if grant.effect == "Deny"]
    return sorted([*added, *dropped_denies])


# -------------------------------------------------------------------- required wildcards


class RequiredWildcard(BaseModel):
    """One wildcard grant AWS requires, matched exactly (placeholders: {account}, {region},
    {partition} of the stack that holds it)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    resource_type: str = Field(pattern=r"^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$")
    action: str = Field(min_length=1)
    target: str = Field(min_length=1)
    principal: str = "-"
    condition: str = "-"
    reason: str = Field(min_length=40)
    doc: str = Field(pattern=r"^https://docs\.aws\.amazon\.com/")

    def matches(self, grant: Grant, location: Location | None) -> bool:
        account, region = location if location is not None else ("{account}", "{region}")

        def expand(text: str) -> str:
            return (
                text.replace("{account}", account)
                .replace("{region}", region)
                .replace("{partition}", "aws")
            )

        return (
            grant.effect == "Allow"
            and grant.resource_type == self.resource_type
            and grant.action == self.action
            and grant.target == expand(self.target)
            and grant.principal == expand(_canonical_text(self.principal))
            and grant.condition == expand(_canonical_text(self.condition))
        )


def _canonical_text(text: str) -> str:
    """A JSON principal or condition written in the file, in the grants' canonical form."""
    if text == "-":
        return text
    try:
        return json.dumps(json.loads(text), sort_keys=True)
    except json.JSONDecodeError:
        return text


class RequiredWildcardsError(CommandError):
    """The allow-list cannot be read: the check cannot decide."""

    exit_code = BAD_INPUT


class _RequiredWildcardsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    wildcards: list[RequiredWildcard]


def load_required_wildcards(path: Path = REQUIRED_WILDCARDS_FILE) -> list[RequiredWildcard]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise RequiredWildcardsError(f"{path}: cannot be read ({error})") from None
    try:
        return _RequiredWildcardsFile.model_validate(document).wildcards
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RequiredWildcardsError(f"{path}: {where}: {first['msg']}") from None


def required_by_aws(
    grant: Grant, required: Iterable[RequiredWildcard], location: Location | None
) -> RequiredWildcard | None:
    return next((entry for entry in required if entry.matches(grant, location)), None)


def unapproved_wildcards(
    findings: Mapping[str, list[Grant]],
    *,
    required: Iterable[RequiredWildcard],
    locations: Mapping[str, Location],
) -> list[tuple[str, Grant]]:
    """(stack, grant) of every new wildcard grant AWS does not require."""
    entries = list(required)
    return [
        (stack, grant)
        for stack, stack_grants in sorted(findings.items())
        for grant in stack_grants
        if grant.wildcard and required_by_aws(grant, entries, locations.get(stack)) is None
    ]


def render(
    findings: dict[str, list[Grant]],
    *,
    required: Iterable[RequiredWildcard] = (),
    locations: Mapping[str, Location] | None = None,
) -> str:
    """Markdown for the approval report: per stack, each new grant, wildcards in bold."""
    if not any(findings.values()):
        return "No permission is broadened.\n"
    entries = list(required)
    lines = ["**Permissions are broadened:**"]
    for stack, new_grants in sorted(findings.items()):
        for grant in new_grants:
            text = str(grant)
            if grant.wildcard:
                entry = required_by_aws(grant, entries, (locations or {}).get(stack))
                why = f"required by AWS: {entry.reason}" if entry else "wildcard"
                text = f"**{grant}** ({why})"
            lines.append(f"- `{stack}` {text}")
    return "\n".join(lines) + "\n"
