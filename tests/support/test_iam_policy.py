"""The harness's IAM evaluation decides as AWS documents, where moto's would not."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.iam_policy import Caller, Request, UnsupportedPolicyError, decide, evaluate

ROLE = Caller(arn="arn:aws:sts::111111111111:assumed-role/step/session", account="111111111111")
KEY = "arn:aws:kms:eu-west-1:444444444444:key/k"


def _document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _request(action: str, resource: str, **context: Any) -> Request:
    return Request(action=action, resource=resource, caller=ROLE, context=context)


def test_an_allow_with_an_unmet_condition_grants_nothing_and_denies_nothing() -> None:
    policy = _document(
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": KEY,
            "Condition": {"StringEquals": {"kms:ViaService": "sns.eu-west-1.amazonaws.com"}},
        }
    )
    direct = evaluate([policy], _request("kms:Decrypt", KEY))
    assert (direct.allow, direct.deny) == (False, False)
    via_sns = evaluate(
        [policy], _request("kms:Decrypt", KEY, **{"kms:ViaService": "sns.eu-west-1.amazonaws.com"})
    )
    assert via_sns.allow


def test_resources_and_actions_match_as_iam_wildcards() -> None:
    policy = _document(
        {
            "Effect": "Allow",
            "Action": "s3:Put*",
            "Resource": "arn:aws:s3:::reports/change-reports/*",
        }
    )
    assert evaluate(
        [policy], _request("S3:PutObject", "arn:aws:s3:::reports/change-reports/e/p.md")
    ).allow
    assert not evaluate([policy], _request("s3:PutObject", "arn:aws:s3:::reports/other.md")).allow
    assert not evaluate(
        [policy], _request("s3:GetObject", "arn:aws:s3:::reports/change-reports/x")
    ).allow


def test_negated_operators_hold_for_an_absent_key_and_null_tests_presence() -> None:
    policy = _document(
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "111111111111"}},
        }
    )
    assert evaluate([policy], _request("sqs:SendMessage", "*")).deny
    assert not evaluate(
        [policy], _request("sqs:SendMessage", "*", **{"aws:PrincipalAccount": "111111111111"})
    ).deny
    # The bootstrap roles' trust: no ExternalId may be given.
    trust = _document(
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Principal": {"AWS": "111111111111"},
            "Condition": {"Null": {"sts:ExternalId": "true"}},
        }
    )
    role = "arn:aws:iam::444444444444:role/lookup"
    assert evaluate([trust], _request("sts:AssumeRole", role), resource_policy=True).allow
    with_id = _request("sts:AssumeRole", role, **{"sts:ExternalId": "deputy"})
    assert not evaluate([trust], with_id, resource_policy=True).allow


def test_across_accounts_both_the_identity_and_the_trust_policy_must_allow() -> None:
    role = "arn:aws:iam::444444444444:role/lookup"
    trust = _document(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "111111111111"}}
    )
    identity = _document({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role})
    request = _request("sts:AssumeRole", role)
    trusted = evaluate([trust], request, resource_policy=True)
    assert decide(
        evaluate([identity], request), trusted, same_account=False, resource_policy_required=True
    )[0]
    assert not decide(
        evaluate([], request), trusted, same_account=False, resource_policy_required=True
    )[0]
    untrusted = evaluate([_document()], request, resource_policy=True)
    assert not decide(
        evaluate([identity], request), untrusted, same_account=False, resource_policy_required=True
    )[0]


def test_a_key_policy_without_the_accounts_statement_makes_iam_policies_useless() -> None:
    request = Request(
        action="kms:Decrypt",
        resource=KEY,
        caller=Caller(arn="arn:aws:sts::444444444444:assumed-role/task/s", account="444444444444"),
    )
    identity = evaluate(
        [_document({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY})], request
    )
    root = _document(
        {
            "Effect": "Allow",
            "Action": "kms:*",
            "Resource": "*",
            "Principal": {"AWS": "arn:aws:iam::444444444444:root"},
        }
    )
    service_only = _document(
        {
            "Effect": "Allow",
            "Action": "kms:*",
            "Resource": "*",
            "Principal": {"Service": "logs.amazonaws.com"},
        }
    )
    with_root = evaluate([root], request, resource_policy=True)
    assert decide(identity, with_root, same_account=True, resource_policy_required=True)[0]
    without = evaluate([service_only], request, resource_policy=True)
    assert not decide(identity, without, same_account=True, resource_policy_required=True)[0]


def test_an_operator_the_harness_cannot_evaluate_is_an_error_not_a_guess() -> None:
    policy = _document(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "*",
            "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}},
        }
    )
    with pytest.raises(UnsupportedPolicyError, match="DateGreaterThan"):
        evaluate([policy], _request("s3:GetObject", "arn:aws:s3:::b/k", **{"aws:CurrentTime": "x"}))
