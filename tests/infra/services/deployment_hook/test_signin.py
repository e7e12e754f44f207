"""The checks' throwaway user, against Cognito's admin API (moto): created, signed in, deleted,
also when a check fails; a refused deletion is logged, never raised over the checks' result."""

from __future__ import annotations

import string
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from config.model import DeliveryConfig
from infra.services.deployment_hook.runtime.deployed_checks import signin
from infra.services.deployment_hook.runtime.deployed_checks.signin import SignInError, signed_in
from tests.support.moto_cognito import Pool, create_pool, moto_server


@pytest.fixture
def pool() -> Iterator[Pool]:
    with moto_server() as endpoint:
        yield create_pool(endpoint)


def _sign_in(pool: Pool, cognito: Any = None, **kwargs: Any) -> Any:
    return signed_in(
        cognito or pool.cognito, user_pool_id=pool.user_pool_id, client_id=pool.client_id, **kwargs
    )


def test_the_user_signs_in_through_the_checks_client_and_is_gone_afterwards(pool: Pool) -> None:
    with _sign_in(pool) as token:
        (username,) = pool.usernames()
        claims = jwt.decode(token, options={"verify_signature": False})
        user = pool.cognito.admin_get_user(UserPoolId=pool.user_pool_id, Username=username)
    assert username.startswith(signin.USERNAME_PREFIX)
    assert username.endswith("@checks.invalid")
    assert (claims["token_use"], claims["client_id"]) == ("access", pool.client_id)
    assert claims["iss"] == pool.issuer_url
    # A permanent password: CONFIRMED, so the sign-in answered tokens, not a challenge.
    assert user["UserStatus"] == "CONFIRMED"
    assert {"Name": "email_verified", "Value": "true"} in user["UserAttributes"]
    assert pool.usernames() == []


def test_each_sign_in_is_a_new_user(pool: Pool) -> None:
    with _sign_in(pool), _sign_in(pool):
        assert len(set(pool.usernames())) == 2
    assert pool.usernames() == []


def test_the_user_is_deleted_when_a_check_fails(pool: Pool) -> None:
    with pytest.raises(AssertionError, match="the check failed"), _sign_in(pool):
        assert pool.usernames()
        raise AssertionError("the check failed")
    assert pool.usernames() == []


class _Cognito:
    """The real client, with one call replaced."""

    def __init__(self, client: Any, **replaced: Any) -> None:
        self._client = client
        self._replaced = replaced

    def __getattr__(self, name: str) -> Any:
        return self._replaced.get(name) or getattr(self._client, name)


def test_a_refused_deletion_is_logged_not_raised_over_the_result(pool: Pool) -> None:
    logged: list[dict[str, Any]] = []

    def refuse(**_kwargs: Any) -> None:
        raise RuntimeError("AccessDenied")

    cognito = _Cognito(pool.cognito, admin_delete_user=refuse)
    failing = pytest.raises(AssertionError, match="the check failed")
    with failing, _sign_in(pool, cognito, log=logged.append):
        raise AssertionError("the check failed")
    (entry,) = logged
    assert entry["event"] == "check_user_not_deleted"
    assert entry["username"] == pool.usernames()[0]
    assert entry["error"] == "RuntimeError: AccessDenied"


def test_an_mfa_challenge_is_a_clear_failure_and_the_user_is_still_deleted(pool: Pool) -> None:
    """A pool whose MFA is REQUIRED answers a user without MFA with MFA_SETUP, not tokens
    (AdminInitiateAuth's documented challenge), which a scripted user cannot pass."""

    def challenge(**kwargs: Any) -> Any:
        pool.cognito.admin_initiate_auth(**kwargs)  # the real call, then Cognito's answer
        return {"ChallengeName": "MFA_SETUP", "Session": "session", "ChallengeParameters": {}}

    cognito = _Cognito(pool.cognito, admin_initiate_auth=challenge)
    with pytest.raises(SignInError, match="MFA_SETUP challenge"), _sign_in(pool, cognito):
        pytest.fail("no token without the challenge")
    assert pool.usernames() == []


def test_the_password_meets_every_environments_policy(config: DeliveryConfig) -> None:
    password = signin.random_password()
    classes = [string.ascii_lowercase, string.ascii_uppercase, string.digits, signin.SYMBOLS]
    assert all(any(char in group for char in password) for group in classes)
    for environment in config.environments:
        assert len(password) >= environment.auth.password.min_length, environment.name
    assert signin.random_password() != password
