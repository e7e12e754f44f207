"""Smoke: the site answers, the API is alive and reaches its database."""

from __future__ import annotations

import pytest

from tests.support.site import Site

pytestmark = pytest.mark.smoke


def test_api_is_alive(site: Site) -> None:
    response = site.request("GET", "/api/health")
    assert response.status == 200
    assert response.headers["x-request-id"]


def test_api_reaches_its_database(site: Site) -> None:
    assert site.request("GET", "/api/ready").status == 200


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
