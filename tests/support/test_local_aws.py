"""The local AWS enforces IAM on a role built from a policy, and tells a denial from a gap."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.support.local_aws import LocalAws

ACCOUNT = "111111111111"
REGION = "eu-west-1"


def _role_client(aws: LocalAws, service: str, statements: list[dict[str, Any]]) -> Any:
    iam = aws.client("iam", account=ACCOUNT, region=REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "codebuild.amazonaws.com"},
            }
        ],
    }
    iam.create_role(RoleName="probe", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName="probe",
        PolicyName="probe",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    credentials = aws.assume_as_service(
        f"arn:aws:iam::{ACCOUNT}:role/probe",
        session_name="probe-session",
        service="codebuild.amazonaws.com",
        region=REGION,
    )
    session = boto3.session.Session()
    return session.client(  # type: ignore[call-overload]
        service,
        region_name=REGION,
        endpoint_url=aws.endpoint,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials["AWS_SESSION_TOKEN"],
    )


def test_an_action_the_role_lacks_is_denied_and_named_with_the_step(local_aws: LocalAws) -> None:
    local_aws.reset()
    ssm = _role_client(
        local_aws,
        "ssm",
        [
            {
                "Effect": "Allow",
                "Action": "ssm:PutParameter",
                "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/todo/releases/*",
            }
        ],
    )
    with local_aws.running("Probe-step") as decisions:
        ssm.put_parameter(Name="/todo/releases/dev", Value="v", Type="String")
        with pytest.raises(ClientError, match="AccessDenied"):
            ssm.put_parameter(Name="/todo/other", Value="v", Type="String")
    assert [(d.label, d.action, d.resource, d.allowed) for d in decisions] == [
        (
            "Probe-step",
            "ssm:PutParameter",
            f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/todo/releases/dev",
            True,
        ),
        (
            "Probe-step",
            "ssm:PutParameter",
            f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/todo/other",
            False,
        ),
    ]
    assert "assumed-role/probe/probe-session" in decisions[1].caller


def test_an_api_moto_lacks_is_authorized_first_and_never_counted_as_allowed_silently(
    local_aws: LocalAws,
) -> None:
    local_aws.reset()
    pipeline = f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:delivery"
    codepipeline = _role_client(
        local_aws,
        "codepipeline",
        [{"Effect": "Allow", "Action": "codepipeline:ListActionExecutions", "Resource": pipeline}],
    )
    with local_aws.running("Probe-step") as decisions:
        with pytest.raises(ClientError):
            codepipeline.list_action_executions(pipelineName="delivery")
        with pytest.raises(ClientError, match="AccessDenied"):
            codepipeline.list_action_executions(pipelineName="other")
    outcomes = [(d.action, d.allowed, d.outcome) for d in decisions]
    assert outcomes == [
        ("codepipeline:ListActionExecutions", True, "authorized"),
        ("codepipeline:ListActionExecutions", True, "not implemented"),
        ("codepipeline:ListActionExecutions", False, "denied"),
    ]
