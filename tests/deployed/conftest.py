"""Post-deploy checks against a running site: SITE_URL=https://... pytest tests/deployed -m smoke.

The pipeline runs them after each deploy with SITE_URL from the stateless stack's output; they
create only their own todos and delete them again. Without SITE_URL they are skipped.
"""

from __future__ import annotations

import os

import pytest

from infra.services.deployment_hook.runtime.deployed_checks.site import Site


@pytest.fixture(scope="session")
def site() -> Site:
    base_url = os.environ.get("SITE_URL", "")
    if not base_url:
        pytest.skip("SITE_URL is not set: these checks run against a deployed site")
    return Site(base_url)
