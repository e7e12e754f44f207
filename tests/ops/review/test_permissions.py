"""The permissions-broadening check reports exactly the Allow grants a change adds."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from ops.review.change_report import build_report
from ops.review.permissions import (
    Location,
    RequiredWildcardsError,
    broadened,
    grants,
    load_required_wildcards,
    render,
    unapproved_wildcards,
)
from ops.review.template_diff import stacks_by_environment
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
    assert render({"todo-dev-stateless": []}) == "No permission is broadened.\n"


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
    assert render({"todo-prod-stateless": [grant]}) == (
        "**Permissions are broadened:**\n"
        "- `todo-prod-stateless` **TaskPolicy: allow sqs:SendMessage on *** (wildcard)\n"
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
    del new["Resources"]["TaskPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    del new["Resources"]["TaskRole"]
    assert broadened(OLD, new) == []


def test_grants_are_read_from_real_synthesized_templates(assembly: Assembly) -> None:
    pipeline_grants = grants(assembly.pipeline_template)
    assert any(
        g.action == "sts:AssumeRole" and "codepipeline" in g.principal for g in pipeline_grants
    )
    assert any(g.action.startswith("kms:") for g in pipeline_grants)


# -------------------------------------------------------------------- real broadening


def _policy(*statements: dict[str, Any], resource_type: str = "AWS::IAM::Policy") -> dict[str, Any]:
    key = "KeyPolicy" if resource_type == "AWS::KMS::Key" else "PolicyDocument"
    return {
        "Resources": {
            "Subject": {
                "Type": resource_type,
                "Properties": {key: {"Statement": list(statements)}},
            }
        }
    }


def _allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_regrouped_statements_broaden_nothing() -> None:
    old = _policy(_allow(["sqs:SendMessage", "sqs:GetQueueAttributes"], "arn:queue"))
    new = _policy(
        _allow("sqs:GetQueueAttributes", "arn:queue"), _allow("sqs:SendMessage", "arn:queue")
    )
    assert broadened(old, new) == []


def test_a_grant_inside_a_wider_deployed_grant_is_no_broadening() -> None:
    old = _policy(_allow("s3:Get*", "arn:aws:s3:::reports/*"))
    new = _policy(_allow("s3:GetObject", "arn:aws:s3:::reports/change-reports/*"))
    assert broadened(old, new) == []
    wider = _policy(_allow("s3:Get*", "arn:aws:s3:::*"))
    (grant,) = broadened(old, wider)
    assert grant.wildcard, "every bucket's objects is a wildcard resource"


def test_dropping_a_condition_or_a_deny_is_a_broadening() -> None:
    condition = {"StringEquals": {"kms:ViaService": "sns.eu-west-1.amazonaws.com"}}
    deny = {
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": "*",
        "Principal": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    old = _policy(_allow("kms:Decrypt", "arn:key", Condition=condition), deny)
    new = _policy(_allow("kms:Decrypt", "arn:key"))
    reported = [str(grant) for grant in broadened(old, new)]
    assert reported == [
        "Subject: allow kms:Decrypt on arn:key",
        'Subject: no longer deny s3:* on * to * when {"Bool": {"aws:SecureTransport": "false"}}',
    ]


def test_in_a_key_policy_resource_star_is_the_key_itself() -> None:
    statement = _allow("kms:Decrypt", "*", Principal={"Service": "logs.eu-west-1.amazonaws.com"})
    (grant,) = broadened({}, _policy(statement, resource_type="AWS::KMS::Key"))
    assert not grant.wildcard
    (identity_grant,) = broadened({}, _policy(_allow("kms:Decrypt", "*")))
    assert identity_grant.wildcard


def _root(account: str) -> dict[str, Any]:
    return _allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{account}:root"})


def test_a_required_wildcard_is_matched_exactly_for_the_stacks_own_account() -> None:
    required = load_required_wildcards()
    location = ("444444444444", "eu-west-1")
    own = broadened({}, _policy(_root("444444444444"), resource_type="AWS::KMS::Key"), location)
    other = broadened({}, _policy(_root("999999999999"), resource_type="AWS::KMS::Key"), location)
    assert all(grant.wildcard for grant in own + other)
    assert unapproved_wildcards({"s": own}, required=required, locations={"s": location}) == []
    assert unapproved_wildcards({"s": other}, required=required, locations={"s": location}) == [
        ("s", other[0])
    ], "another account's root on kms:* is real broadening, not what AWS requires"
    token_with_more = broadened({}, _policy(_allow(["ecr:GetAuthorizationToken", "ecr:*"], "*")))
    refused = unapproved_wildcards({"s": token_with_more}, required=required, locations={})
    assert [grant.action for _, grant in refused] == ["ecr:*"]


def test_a_bad_allow_list_entry_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "required-wildcards.yaml"
    path.write_text(
        "wildcards:\n  - resource_type: AWS::IAM::Policy\n    action: s3:*\n    target: '*'\n"
        "    reason: because\n    doc: https://docs.aws.amazon.com/x\n",
        encoding="utf-8",
    )
    with pytest.raises(
        RequiredWildcardsError, match=r"wildcards\.0\.reason: String should have at least 40"
    ):
        load_required_wildcards(path)


def _locations(assembly: Assembly) -> dict[str, Location]:
    return {stack.name: stack.location for stack in assembly.cloud.stacks}


def _prod(assembly: Assembly) -> tuple[dict[str, dict[str, Any]], dict[str, Location]]:
    return stacks_by_environment(assembly.root)["prod"], _locations(assembly)


def test_a_never_deployed_prod_passes_the_wildcard_check(assembly: Assembly) -> None:
    proposed, locations = _prod(assembly)
    _, findings = build_report(
        environment="prod",
        deployed={},
        proposed=proposed,
        commit="c",
        locations=locations,
        required=load_required_wildcards(),
    )
    assert any(grant.wildcard for grants_ in findings.values() for grant in grants_)
    assert (
        unapproved_wildcards(findings, required=load_required_wildcards(), locations=locations)
        == []
    )


def test_a_broadened_prod_fails_the_check_naming_the_grant(assembly: Assembly) -> None:
    proposed, locations = _prod(assembly)
    deployed = copy.deepcopy(proposed)
    services = next(name for name in proposed if name.endswith("-stateless"))
    policy_id, policy = next(
        (logical_id, resource)
        for logical_id, resource in proposed[services]["Resources"].items()
        if resource["Type"] == "AWS::IAM::Policy"
    )
    policy["Properties"]["PolicyDocument"]["Statement"].append(_allow("sqs:*", "*"))
    _, findings = build_report(
        environment="prod", deployed=deployed, proposed=proposed, commit="c", locations=locations
    )
    refused = unapproved_wildcards(
        findings, required=load_required_wildcards(), locations=locations
    )
    assert [(stack, str(grant)) for stack, grant in refused] == [
        (services, f"{policy_id}: allow sqs:* on *")
    ]


def test_every_required_wildcard_is_one_the_synthesized_system_needs(assembly: Assembly) -> None:
    """No stale entry: each matches a grant of some synthesized template."""
    locations = _locations(assembly)
    templates = {
        name: template
        for stacks in stacks_by_environment(assembly.root).values()
        for name, template in stacks.items()
    }
    for entry in load_required_wildcards():
        assert any(
            entry.matches(grant, locations[name])
            for name, template in templates.items()
            for grant in grants(template, locations[name])
        ), f"{entry.action} on {entry.target} ({entry.resource_type}) matches no grant: remove it"
