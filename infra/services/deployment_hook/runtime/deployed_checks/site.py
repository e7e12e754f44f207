"""A small HTTP client for a deployed site (stdlib only: it runs in the repo and in Lambda)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Site:
    base_url: str
    timeout: float = 15
    # Sent with every request: the deployment hook's test header selects the test route.
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # urlopen also follows file: and custom schemes; a site is only ever http(s).
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"a site URL starts with http:// or https://, got {self.base_url!r}")

    def signed_in(self, access_token: str) -> Site:
        """This site, with every request carrying ``access_token`` as its Bearer token: the
        API answers 401 to all but its health routes without one (docs/auth.md)."""
        if not access_token:
            raise ValueError("an empty access token signs nobody in")
        return replace(self, headers={**self.headers, "Authorization": f"Bearer {access_token}"})

    def request(self, method: str, path: str, payload: Any = None) -> Response:
        data = None if payload is None else json.dumps(payload).encode()
        headers = dict(self.headers)
        if data is not None:
            headers["content-type"] = "application/json"
        request = urllib.request.Request(  # noqa: S310 - the URL is the site under test
            self.base_url.rstrip("/") + path, data=data, method=method, headers=headers
        )
        try:
            # The scheme is http(s), checked in __post_init__.
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:  # noqa: S310 # nosec B310
                return Response(
                    reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read()
                )
        except urllib.error.HTTPError as error:
            return Response(
                error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()
            )
