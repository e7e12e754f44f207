"""Smoke: the site answers, the API is alive and reaches its database."""

from __future__ import annotations

import pytest

from infra.services.deployment_hook.runtime.deployed_checks import api
from infra.services.deployment_hook.runtime.deployed_checks.site import Site

pytestmark = pytest.mark.smoke


@pytest.mark.parametrize("check", api.SMOKE, ids=lambda check: check.__name__)
def test_api(site: Site, check: api.Check) -> None:
    check(site)


@pytest.mark.web
def test_web_app_is_served_with_security_headers(site: Site) -> None:
    response = site.request("GET", "/")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    assert b'<div id="root"' in response.body
    assert "max-age" in response.headers.get("strict-transport-security", "")


@pytest.mark.web
def test_deep_links_serve_the_app(site: Site) -> None:
    response = site.request("GET", "/todos/some/deep/link")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
