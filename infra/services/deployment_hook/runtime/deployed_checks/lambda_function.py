"""The deployment hook's Lambda entry point: hook.handler with Cognito's sign-in.

A module of its own so that the SDK import stays out of what the CDK app imports
(infra/services reads the test header from hook.py; the pipeline's synth must not load
boto3, pyproject.toml's import contracts). Lambda's Python runtime has boto3.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

import boto3
from botocore.config import Config

from . import hook
from .signin import SignInError, signed_in

# Cognito's calls must end well within the function's timeout (construct.py), retries included,
# so that the user's deletion always gets its turn: 4 calls x 2 attempts x (5 + 5) s = 80 s at
# the very worst, inside the function's 120 s.
COGNITO_CONNECT_TIMEOUT = 5
COGNITO_READ_TIMEOUT = 5
COGNITO_ATTEMPTS = 2


def cognito_sign_in() -> AbstractContextManager[str]:
    """A throwaway user of the environment's pool, with the function's own role."""
    user_pool_id = os.environ.get("CHECKS_USER_POOL_ID", "")
    client_id = os.environ.get("CHECKS_CLIENT_ID", "")
    if not (user_pool_id and client_id):
        raise SignInError(
            "the contract checks call the API as a signed-in user, but CHECKS_USER_POOL_ID "
            "and CHECKS_CLIENT_ID are not set (infra: DeploymentHook.sign_in_checks)"
        )
    cognito = boto3.client(
        "cognito-idp",
        config=Config(
            connect_timeout=COGNITO_CONNECT_TIMEOUT,
            read_timeout=COGNITO_READ_TIMEOUT,
            retries={"mode": "standard", "total_max_attempts": COGNITO_ATTEMPTS},
        ),
    )
    return signed_in(cognito, user_pool_id=user_pool_id, client_id=client_id)


def handler(event: Mapping[str, Any], context: object = None) -> dict[str, str]:
    """What ECS invokes (the function's handler, construct.py)."""
    return hook.handler(event, context, sign_in=cognito_sign_in)
