"""Signing keys and a JWKS endpoint on loopback, standing in for Cognito where only tokens are
needed, not sign-in (the start check of a built image, the service tests, the API benchmark):
the API fetches the keys from ``<issuer>/.well-known/jwks.json`` as it does Cognito's, and
checks tokens shaped as Cognito's access tokens. `make dev`'s issuer serves its own keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

JWKS_PATH = "/.well-known/jwks.json"
ACCESS_TOKEN_SECONDS = 3600  # Cognito's default access token validity


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    """An RSA key pair for RS256 tokens, and its public JWK under ``kid`` (by default the
    RFC 7638 thumbprint of the public key, so a new key is a new kid)."""

    def __init__(self, kid: str | None = None) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        members = {name: public[name] for name in ("e", "kty", "n")}
        canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
        self.kid = kid or _b64url(hashlib.sha256(canonical).digest())
        self.jwk: dict[str, Any] = {**members, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        # Cognito's header is just kid and alg: no "typ".
        headers = {"kid": self.kid if kid is None else kid, "typ": None}
        return jwt.encode(claims, self._key, algorithm="RS256", headers=headers)


def access_claims(
    *, issuer_url: str, app_client: str, subject: str, **changes: Any
) -> dict[str, Any]:
    """The claims of a Cognito access token for ``subject`` of ``app_client``; ``changes`` name
    claims (a change to None leaves one out)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "iss": issuer_url,
        "client_id": app_client,
        "token_use": "access",
        "scope": "openid email",
        "auth_time": now,
        "iat": now,
        "exp": now + ACCESS_TOKEN_SECONDS,
        "jti": str(uuid.uuid4()),
        "username": subject,
        **changes,
    }
    return {name: value for name, value in claims.items() if value is not None}


@dataclass
class JwksEndpoint:
    """Serves ``keys`` (JWKs, changeable while it runs) at ``url`` + JWKS_PATH; counts fetches."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    fetches: int = 0


def _handler(endpoint: JwksEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != JWKS_PATH:
                self.send_error(404)
                return
            endpoint.fetches += 1
            body = json.dumps({"keys": endpoint.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:  # a stand-in, not a server to watch
            pass

    return Handler


@contextmanager
def running_jwks(keys: list[dict[str, Any]]) -> Iterator[JwksEndpoint]:
    """An endpoint on 127.0.0.1 (a free port) serving ``keys`` until the block ends."""
    endpoint = JwksEndpoint(keys=keys)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(endpoint))
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="jwks", daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
