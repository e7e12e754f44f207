"""API contract on the deployed site: the todo life cycle and its errors.

The checks themselves are the ones the blue/green deployment hook runs against the new tasks
(infra/services/deployment_hook), so the two cannot drift apart.
"""

from __future__ import annotations

import pytest

from infra.services.deployment_hook.runtime.deployed_checks import api
from infra.services.deployment_hook.runtime.deployed_checks.site import Site

pytestmark = pytest.mark.contract


@pytest.mark.parametrize("check", api.CONTRACT, ids=lambda check: check.__name__)
def test_contract(signed_in_site: Site, check: api.Check) -> None:
    check(signed_in_site)
