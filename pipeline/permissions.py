"""Permissions-broadening check: which Allow grants would a change add?

Policies are flattened into (action, resource, principal, condition) grants per resource
(IAM policies, roles' inline and managed policies, trust policies, key, bucket, queue, topic
and repository policies). A grant in the new template that no statement of the old template
gave is a broadening. Narrowing or unchanged permissions are not reported. The check runs
before the production approval, so the approver sees every widened permission explicitly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True, order=True)
class Grant:
    resource_id: str
    action: str
    target: str  # the policy's Resource, or "-" for resource policies without one
    principal: str  # "-" for identity policies
    condition: str

    def __str__(self) -> str:
        who = f" to {self.principal}" if self.principal != "-" else ""
        when = f" when {self.condition}" if self.condition != "-" else ""
        return f"{self.resource_id}: allow {self.action} on {self.target}{who}{when}"

    @property
    def wildcard(self) -> bool:
        return "*" in self.action or self.target == "*" or '"*"' in self.principal


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


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


def grants(template: dict[str, Any]) -> set[Grant]:
    """Every Allow grant of every policy-bearing resource in a template."""
    found: set[Grant] = set()
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        for path in _POLICY_PATHS.get(resource["Type"], ()):
            for document in _documents(properties, path):
                for statement in _statements(document):
                    if statement.get("Effect") != "Allow":
                        continue
                    principal = _canonical(statement.get("Principal", "-"))
                    condition = _canonical(statement.get("Condition", "-"))
                    for action in _as_list(statement.get("Action", [])):
                        for target in _as_list(statement.get("Resource", "-")):
                            found.add(
                                Grant(
                                    logical_id,
                                    _canonical(action),
                                    _canonical(target),
                                    principal,
                                    condition,
                                )
                            )
        for arn in _as_list(properties.get("ManagedPolicyArns", [])):
            found.add(Grant(logical_id, "managed policy", _canonical(arn), "-", "-"))
    return found


def broadened(old: dict[str, Any], new: dict[str, Any]) -> list[Grant]:
    """Grants the new template gives that the old one did not, sorted."""
    return sorted(grants(new) - grants(old))


def render(findings: dict[str, list[Grant]]) -> str:
    """Markdown for the approval report: per stack, each new grant, wildcards in bold."""
    if not any(findings.values()):
        return "No permission is broadened.\n"
    lines = ["**Permissions are broadened:**"]
    for stack, new_grants in sorted(findings.items()):
        for grant in new_grants:
            text = f"**{grant}** (wildcard)" if grant.wildcard else str(grant)
            lines.append(f"- `{stack}` {text}")
    return "\n".join(lines) + "\n"
