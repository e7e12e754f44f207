"""Post-deploy checks against a running site: SITE_URL=https://... pytest tests/deployed -m smoke.

The pipeline runs them after each deploy with SITE_URL from the stateless stack's output; they
create only their own todos and delete them again. Without SITE_URL they are skipped.

The contract and integration checks call the API as a signed-in user (``signed_in_site``):
with CHECKS_ROLE_ARN, CHECKS_USER_POOL_ID and CHECKS_CLIENT_ID (the Verify step has them,
pipeline/steps.py) the session assumes the environment's checks role, signs one throwaway user
in (the hook's own signin module) and deletes it when the session ends. Without them those
checks skip, or, where a skip would be a silent pass (``STRICT_VARIABLE``, set by the Verify
step's run, ops/release/checks.py), fail. The smoke checks stay anonymous.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from infra.services.deployment_hook.runtime.deployed_checks.signin import signed_in
from infra.services.deployment_hook.runtime.deployed_checks.site import Site

SIGN_IN_VARIABLES = ("CHECKS_ROLE_ARN", "CHECKS_USER_POOL_ID", "CHECKS_CLIENT_ID")
# Set to "1" where a check that cannot sign in must fail rather than skip.
STRICT_VARIABLE = "DEPLOYED_CHECKS_STRICT"


@pytest.fixture(scope="session")
def site() -> Site:
    base_url = os.environ.get("SITE_URL", "")
    if not base_url:
        pytest.skip("SITE_URL is not set: these checks run against a deployed site")
    return Site(base_url)


@pytest.fixture(scope="session")
def signed_in_site(site: Site) -> Iterator[Site]:
    """The site, as one throwaway user of the environment's pool, for the whole session."""
    values = {name: os.environ.get(name, "") for name in SIGN_IN_VARIABLES}
    missing = [name for name, value in values.items() if not value]
    if missing:
        reason = (
            f"{', '.join(missing)} not set: the contract and integration checks call the API "
            "as a signed-in user (the Verify step passes the environment's checks role, pool "
            "and client)"
        )
        if os.environ.get(STRICT_VARIABLE) == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    # The repository's one assumed-role helper; imported here so the smoke checks never load
    # boto3. The pool id starts with its region ("eu-west-1_AbC..."), which may differ from
    # the pipeline's own (AWS_REGION in CodeBuild).
    from ops.common import aws_session  # noqa: PLC0415

    pool_id = values["CHECKS_USER_POOL_ID"]
    session = aws_session(
        region=pool_id.split("_", 1)[0],
        role_arn=values["CHECKS_ROLE_ARN"],
        session_name="deployed-checks",
    )
    with signed_in(
        session.client("cognito-idp"), user_pool_id=pool_id, client_id=values["CHECKS_CLIENT_ID"]
    ) as access_token:
        yield site.signed_in(access_token)
