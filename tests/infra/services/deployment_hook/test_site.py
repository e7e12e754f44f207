"""The checks' HTTP client refuses what is not a site before urlopen could follow it."""

from __future__ import annotations

import pytest

from infra.services.deployment_hook.runtime.deployed_checks.site import Site


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com", "example.com"])
def test_only_http_and_https_urls_are_sites(url: str) -> None:
    with pytest.raises(ValueError, match="starts with http:// or https://"):
        Site(url)
