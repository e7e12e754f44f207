"""The hook's sign-in under the role the templates give the function, IAM enforced.

The environment is deployed into the local AWS (its user pool and checks client created from
the templates), the function's role exists with exactly its policies, and the Lambda entry
point's own sign-in runs with that role's credentials and the function's environment: every
Cognito call it makes is authorized on the pool, and no user is left behind.
"""

from __future__ import annotations

import boto3
import pytest

from config.names import CHECKS_ROLE_ACTIONS
from infra.services.deployment_hook.runtime.deployed_checks.lambda_function import (
    cognito_sign_in,
)
from tests.support.aws_world import World

HANDLER = "deployed_checks.lambda_function.handler"


@pytest.mark.parametrize("environment", ["dev", "staging"])
def test_the_hook_signs_in_and_cleans_up_with_its_own_role(
    environment: str, empty_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_world.deploy_environment(environment)
    ((stack, function),) = [
        (stack, resource)
        for stack in empty_world.environment_stacks(environment)
        for resource in stack.resources("AWS::Lambda::Function").values()
        if resource["Properties"].get("Handler") == HANDLER
    ]
    role_arn = empty_world.role(stack, function["Properties"]["Role"]["Fn::GetAtt"][0])
    variables = empty_world.resolve(stack, function["Properties"]["Environment"]["Variables"])
    credentials = empty_world.aws.assume_as_service(
        role_arn, session_name="hook", service="lambda.amazonaws.com", region=stack.region
    )
    for name, value in {
        **credentials,
        "AWS_ENDPOINT_URL": empty_world.aws.endpoint,
        "AWS_DEFAULT_REGION": stack.region,
        "CHECKS_USER_POOL_ID": variables["CHECKS_USER_POOL_ID"],
        "CHECKS_CLIENT_ID": variables["CHECKS_CLIENT_ID"],
    }.items():
        monkeypatch.setenv(name, str(value))
    # A function's process reads its role's credentials when it first makes a client; here
    # the test process's default session would keep the previous test's.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)

    with empty_world.aws.running("hook") as decisions, cognito_sign_in() as token:
        assert token.count(".") == 2  # a JWT: the API checks the rest (tests/services/api)

    pool_arn = (
        f"arn:aws:cognito-idp:{stack.region}:{stack.account}:"
        f"userpool/{variables['CHECKS_USER_POOL_ID']}"
    )
    assert [d for d in decisions if not d.allowed] == []
    role_name = role_arn.rsplit("/", 1)[1]
    assert {
        (d.action, d.resource) for d in decisions if f":assumed-role/{role_name}/" in d.caller
    } == {(action, pool_arn) for action in CHECKS_ROLE_ACTIONS}
    cognito = empty_world.client("cognito-idp", stack)
    assert cognito.list_users(UserPoolId=variables["CHECKS_USER_POOL_ID"])["Users"] == []
