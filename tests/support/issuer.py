"""A token issuer for the service tests and the API benchmark: an RSA key whose JWKS is served
over real HTTP on loopback, minting Cognito-shaped access tokens with any claim changed, and a
second key the issuer never published (for forged tokens).

The API under test fetches the JWKS from here exactly as it fetches Cognito's in AWS
(todo_api.auth.JwksCache over urllib); nothing in the validation path is replaced.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt

from todo_devstack.jwks import JwksEndpoint, Signer, access_claims, running_jwks

CLIENT_ID = "testclient0123456789abcdef"
# The user a service test acts as unless it says otherwise (a Cognito-like sub), and another.
USER = "0b7e5f7e-3c2a-4d7e-9a51-3f1f0c1d2e01"
OTHER_USER = "9d3c1a2b-5e4f-4a6b-8c7d-0e1f2a3b4c5d"


@dataclass
class Issuer:
    """Serves its published keys at ``url``/.well-known/jwks.json (once running)."""

    url: str = ""
    client_id: str = CLIENT_ID
    signer: Signer = field(default_factory=lambda: Signer("test-key-1"))
    # Signs tokens the issuer never published: a forgery.
    stranger: Signer = field(default_factory=lambda: Signer("test-key-1"))
    published: list[dict[str, Any]] = field(default_factory=list)
    endpoint: JwksEndpoint | None = None

    def __post_init__(self) -> None:
        self.published = [self.signer.jwk]

    @property
    def kid(self) -> str:
        return self.signer.kid

    @property
    def fetches(self) -> int:
        """How often the JWKS was read."""
        return 0 if self.endpoint is None else self.endpoint.fetches

    @property
    def settings(self) -> dict[str, str]:
        """The API settings (environment variables) that trust this issuer."""
        return {"AUTH_ISSUER": self.url, "AUTH_CLIENT_ID": self.client_id}

    def token(
        self,
        subject: str,
        *,
        key: Signer | bytes | None = None,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        """An access token for ``subject``; a claim given as None is left out. ``key`` bytes
        sign with HS256 (what a forger who knows no private key tries)."""
        content = access_claims(
            issuer_url=self.url, app_client=self.client_id, subject=subject, **claims
        )
        if isinstance(key, bytes):
            return jwt.encode(content, key, algorithm="HS256", headers={"kid": kid or self.kid})
        return (key or self.signer).sign(content, kid=kid)

    def headers(self, subject: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(subject, **claims)}"}


@contextmanager
def running_issuer() -> Iterator[Issuer]:
    """An issuer whose JWKS is served on loopback (todo_devstack.jwks) until the block ends."""
    issuer = Issuer()
    with running_jwks(issuer.published) as endpoint:
        issuer.url = endpoint.url
        issuer.endpoint = endpoint
        yield issuer
