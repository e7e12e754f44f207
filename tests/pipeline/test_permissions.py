"""The permissions-broadening check reports exactly the Allow grants a change adds."""

from __future__ import annotations

import copy
from typing import Any

from pipeline.permissions import broadened, grants, render
from tests.support.assembly import Assembly

OLD: dict[str, Any] = {
    "Resources": {
        "TaskPolicy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyDocument": {
                    "Statement": [
                        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "arn:queue"},
                        {"Effect": "Deny", "Action": "sqs:*", "Resource": "*"},
                    ]
                }
            },
        },
        "TaskRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                        }
                    ]
                },
            },
        },
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
    }
}


def _new() -> dict[str, Any]:
    return copy.deepcopy(OLD)


def test_same_template_broadens_nothing() -> None:
    assert broadened(OLD, OLD) == []
    assert render({"todo-dev-services": []}) == "No permission is broadened.\n"


def test_deny_statements_are_not_grants() -> None:
    assert {g.action for g in grants(OLD)} == {"sqs:SendMessage", "sts:AssumeRole"}


def test_a_new_action_is_reported_with_its_resource() -> None:
    new = _new()
    new["Resources"]["TaskPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Action"].append(
        "sqs:DeleteMessage"
    )
    (grant,) = broadened(OLD, new)
    assert str(grant) == "TaskPolicy: allow sqs:DeleteMessage on arn:queue"
    assert not grant.wildcard


def test_a_wildcard_resource_is_a_broadening_in_bold() -> None:
    new = _new()
    new["Resources"]["TaskPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Resource"] = "*"
    (grant,) = broadened(OLD, new)
    assert grant.wildcard
    assert render({"todo-prod-services": [grant]}) == (
        "**Permissions are broadened:**\n"
        "- `todo-prod-services` **TaskPolicy: allow sqs:SendMessage on *** (wildcard)\n"
    )


def test_a_new_trusted_principal_and_a_managed_policy_are_reported() -> None:
    new = _new()
    trust = new["Resources"]["TaskRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    trust.append(
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
        }
    )
    new["Resources"]["TaskRole"]["Properties"]["ManagedPolicyArns"] = [
        "arn:aws:iam::aws:policy/AdministratorAccess"
    ]
    reported = {str(g) for g in broadened(OLD, new)}
    assert reported == {
        'TaskRole: allow sts:AssumeRole on - to {"AWS": "arn:aws:iam::999999999999:root"}',
        "TaskRole: allow managed policy on arn:aws:iam::aws:policy/AdministratorAccess",
    }


def test_narrowing_is_not_reported() -> None:
    new = _new()
    del new["Resources"]["TaskPolicy"]
    assert broadened(OLD, new) == []


def test_grants_are_read_from_real_synthesized_templates(assembly: Assembly) -> None:
    pipeline_grants = grants(assembly.pipeline_template)
    assert any(
        g.action == "sts:AssumeRole" and "codepipeline" in g.principal for g in pipeline_grants
    )
    assert any(g.action.startswith("kms:") for g in pipeline_grants)
