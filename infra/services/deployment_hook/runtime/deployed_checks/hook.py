"""The blue/green deployment's POST_TEST_TRAFFIC_SHIFT hook: the API's smoke checks, and its
contract checks where the environment runs them (``CHECKS``), against the new (green) tasks
through the load balancer's test route.

ECS invokes it once test traffic points at green, before any production traffic does, and
reads ``hookStatus``: ``FAILED`` (or an error) rolls the deployment back to blue.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/lambda-lifecycle-hooks.html

The contract checks call the API as a signed-in user (every route but the health routes needs
a token): the hook signs a throwaway user in through the checks' app client
(``CHECKS_USER_POOL_ID``, ``CHECKS_CLIENT_ID``; signin.py, lambda_function.py) and deletes it
afterwards. The
smoke checks stay anonymous, so prod's hook needs no user, no client and no Cognito access.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict
from typing import Any

from .api import CONTRACT, SMOKE, Check, Outcome, run
from .site import Site

# The test listener's rule forwards only requests carrying this header (infra/services); the
# listener itself admits only this function's security group.
TEST_HEADER = "x-deployment-test"
TEST_HEADER_VALUE = "green"
# Opens a signed-in session: the access token while the block runs, the user gone after it.
SignIn = Callable[[], AbstractContextManager[str]]


def run_signed_in(site: Site, checks: tuple[Check, ...], sign_in: SignIn) -> list[Outcome]:
    """``checks`` as a signed-in user; if no user can sign in, each fails saying why."""
    try:
        with sign_in() as access_token:
            return run(site.signed_in(access_token), checks)
    # The checks never raise (run() records every error); this is the sign-in's own failure.
    except Exception as error:
        detail = f"the check user could not sign in: {type(error).__name__}: {error}"
        return [
            Outcome(check=check.__name__, passed=False, seconds=0.0, detail=detail)
            for check in checks
        ]


def handler(
    event: Mapping[str, Any], _context: object = None, *, sign_in: SignIn
) -> dict[str, str]:
    """The checks against green; ``sign_in`` opens the contract checks' user session
    (Lambda's entry point, lambda_function.py, passes Cognito's)."""
    site = Site(
        os.environ["TEST_URL"],
        timeout=10,
        headers={TEST_HEADER: TEST_HEADER_VALUE},
    )
    # The environment's own post-deploy markers: prod runs smoke only (no writes to its data).
    markers = set(os.environ.get("CHECKS", "smoke").split(","))
    outcomes = run(site, SMOKE)
    if "contract" in markers:
        outcomes += run_signed_in(site, CONTRACT, sign_in)
    failed = [outcome for outcome in outcomes if not outcome.passed]
    for outcome in outcomes:
        print(json.dumps({"event": "deployment_check", **asdict(outcome)}))
    status = "FAILED" if failed else "SUCCEEDED"
    # One JSON line per result: the function's log, which Lambda sends to its log group.
    print(
        json.dumps(
            {
                "event": "deployment_hook",
                "hookStatus": status,
                "serviceArn": event.get("serviceArn"),
                "targetServiceRevisionArn": event.get("targetServiceRevisionArn"),
                "failed": [outcome.check for outcome in failed],
            }
        )
    )
    return {"hookStatus": status}
