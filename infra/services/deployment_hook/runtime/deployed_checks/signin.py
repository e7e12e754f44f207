"""A throwaway Cognito user for the checks that call the API as a signed-in user.

The blue/green hook (in Lambda, with its execution role) and tests/deployed (in the Verify
step, with the environment's checks role) sign in the same way: create a user nobody is told
about, give it a random permanent password, sign it in through the checks' app client
(``ALLOW_ADMIN_USER_PASSWORD_AUTH`` only, infra/auth/clients.py) and hand out its access
token; at the end the user is deleted, also when a check failed. Standard library and boto3
only: Lambda's Python runtime has boto3, and nothing here may pull in the repository.

The pool signs in by email (infra/auth/user_pool.py: ``username_attributes`` email), so
Cognito requires the username of AdminCreateUser to be an email address; ``.invalid`` is a
reserved top-level domain (RFC 2606), so no mail could ever reach anyone, and the user is
created with ``MessageAction=SUPPRESS`` (no invitation is sent) and ``email_verified`` true.
A permanent password (AdminSetUserPassword ``Permanent=True``) moves the user from
FORCE_CHANGE_PASSWORD to CONFIRMED, so the sign-in answers tokens, not a
NEW_PASSWORD_REQUIRED challenge.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminCreateUser.html
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminSetUserPassword.html
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminInitiateAuth.html
"""

from __future__ import annotations

import json
import secrets
import string
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

USERNAME_PREFIX = "deployed-check-"
USERNAME_DOMAIN = "checks.invalid"
# Far above every environment's minimum (auth.password.min_length, 12; a test compares them).
PASSWORD_LENGTH = 64
# A subset of the special characters Cognito's password policy counts as symbols.
SYMBOLS = "^$*.[]{}()?-!@#%&/,><:;|_~+="
_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits, SYMBOLS)


class SignInError(Exception):
    """The check user could not be signed in: the checks that need one cannot run."""


def check_username() -> str:
    """A fresh username (an email address: the pool signs in by email) for one run."""
    return f"{USERNAME_PREFIX}{uuid.uuid4()}@{USERNAME_DOMAIN}"


def random_password() -> str:
    """A password the pools' policies accept: every character class, ``PASSWORD_LENGTH`` long."""
    alphabet = "".join(_CLASSES)
    chars = [secrets.choice(group) for group in _CLASSES]
    chars += [secrets.choice(alphabet) for _ in range(PASSWORD_LENGTH - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def _log(entry: dict[str, Any]) -> None:
    # One JSON line, as the hook logs its results (Lambda sends stdout to its log group).
    print(json.dumps(entry), file=sys.stderr)


@contextmanager
def signed_in(
    cognito: Any,
    *,
    user_pool_id: str,
    client_id: str,
    log: Callable[[dict[str, Any]], None] = _log,
) -> Iterator[str]:
    """The access token of a new user of ``user_pool_id``, deleted when the block ends.

    ``cognito`` is a boto3 ``cognito-idp`` client whose credentials may call AdminCreateUser,
    AdminSetUserPassword, AdminInitiateAuth and AdminDeleteUser on the pool. A failed
    deletion is logged, never raised: it must not replace the checks' own outcome.
    """
    username = check_username()
    try:
        # Inside the try: a create that timed out may still have made the user.
        cognito.admin_create_user(
            UserPoolId=user_pool_id,
            Username=username,
            UserAttributes=[
                {"Name": "email", "Value": username},
                {"Name": "email_verified", "Value": "true"},
            ],
            MessageAction="SUPPRESS",
        )
        yield _sign_in(cognito, user_pool_id=user_pool_id, client_id=client_id, username=username)
    finally:
        try:
            cognito.admin_delete_user(UserPoolId=user_pool_id, Username=username)
        # Any error (no permission, a timeout) is logged: the checks' outcome stands.
        except Exception as error:
            log(
                {
                    "event": "check_user_not_deleted",
                    "username": username,
                    "error": f"{type(error).__name__}: {error}",
                }
            )


def _sign_in(cognito: Any, *, user_pool_id: str, client_id: str, username: str) -> str:
    password = random_password()
    cognito.admin_set_user_password(
        UserPoolId=user_pool_id, Username=username, Password=password, Permanent=True
    )
    reply = cognito.admin_initiate_auth(
        UserPoolId=user_pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    challenge = reply.get("ChallengeName")
    if challenge:
        # With MFA optional (auth.mfa in every environment) a user who set none up signs in
        # without one; REQUIRED would answer MFA_SETUP, which a scripted user cannot pass.
        raise SignInError(
            f"Cognito answered the check user's sign-in with the {challenge} challenge, not "
            "tokens: the checks sign in only where the pool's MFA is optional (auth.mfa) and "
            "no challenge-issuing trigger is attached"
        )
    token = reply.get("AuthenticationResult", {}).get("AccessToken")
    if not isinstance(token, str) or not token:
        raise SignInError("Cognito's sign-in answer for the check user has no access token")
    return token
