"""Access tokens: who is asking, proven by the issuer's signature (docs/auth.md).

Every route but health and readiness depends on :data:`current_user`. The token is a Cognito
access token (or the local issuer's, shaped the same): RS256, signed by a key of the issuer's
JWKS, for our app client, not expired. Anything else is a 401 problem with
``WWW-Authenticate``; the keys unreachable is a 503.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import anyio.to_thread
import jwt
from fastapi import Depends, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
from fastapi.security.utils import get_authorization_scheme_param

from todo_api.problems import TYPE_PREFIX, ProblemError

log = logging.getLogger(__name__)

UNAUTHORIZED = TYPE_PREFIX + "unauthorized"
KEYS_UNAVAILABLE = TYPE_PREFIX + "keys-unavailable"
ALGORITHM = "RS256"  # what Cognito signs with; "none" and HMAC are never accepted
MAX_TOKEN_BYTES = 8 * 1024
MAX_JWKS_BYTES = 64 * 1024
JWKS_TIMEOUT_SECONDS = 5.0
# An unknown kid refetches the keys (a rotation), but no more often than this: a stream of
# forged tokens with made-up kids must not turn into a stream of requests to the issuer, and a
# token signed by a freshly rotated key waits at most this long.
MIN_REFETCH_SECONDS = 10.0
# With no key known yet (the issuer unreachable at start), a retry comes sooner.
RETRY_SECONDS = 5.0
# Known keys are refreshed this often even when every kid is known (a revoked key drops out).
MAX_KEYS_AGE_SECONDS = 3600.0
REQUIRED_CLAIMS = ["exp", "iat", "iss", "sub", "token_use", "client_id"]
# A token proven once is taken at its word until it expires, but for no longer than this: the
# signature check (and the worker thread it needs) cost a request more than its own SQL, and a
# client sends the same token for an hour. A key the issuer withdraws stops counting within
# this time; the cache holds at most MAX_VERIFIED_TOKENS tokens (the oldest go first).
VERIFIED_TOKEN_SECONDS = 300.0
MAX_VERIFIED_TOKENS = 10_000


class InvalidTokenError(Exception):
    """The token proves nothing; ``str()`` says why, fit for ``error_description``."""


class KeysUnavailableError(Exception):
    """The issuer's JWKS could not be read and no key is known for the token."""


@dataclass(frozen=True, kw_only=True)
class User:
    """The caller, as the token says: ``subject`` owns the data."""

    subject: str
    username: str | None = None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """The keys come from the configured URL only: a redirect is an error, not a new source."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def fetch_json(url: str) -> Any:
    """GET ``url`` (https, or http on loopback: the settings allow no other) as JSON."""
    # The scheme is checked at start-up (todo_api.settings.check_auth_url): https or loopback.
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with _OPENER.open(request, timeout=JWKS_TIMEOUT_SECONDS) as response:
        body = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError(f"over {MAX_JWKS_BYTES} bytes")
    return json.loads(body)


class JwksCache:
    """The issuer's signing keys by kid, fetched when first needed and refreshed on an unknown
    kid (rate-limited) or when old. Thread-safe: new tokens are checked in worker threads."""

    def __init__(
        self,
        url: str,
        *,
        fetch: Callable[[str], Any] = fetch_json,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._failure = ""

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The key named ``kid``; None when the issuer has no such key. KeysUnavailableError
        while no key could be read at all.

        A known key is served without waiting: only one thread fetches, and while it does the
        others keep using the keys they know (a fetch may take seconds)."""
        known, fetched_at = self._keys.get(kid), self._fetched_at
        fresh = fetched_at is not None and self._clock() - fetched_at < MAX_KEYS_AGE_SECONDS
        if known is not None and fresh:
            return known
        if not self._lock.acquire(blocking=known is None):
            return known  # another thread is refreshing; this key is still the issuer's
        try:
            now = self._clock()
            if self._due(kid, now):
                self._refresh(now)
            if not self._keys and self._failure:
                raise KeysUnavailableError(f"the issuer's keys are unreachable: {self._failure}")
            return self._keys.get(kid)
        finally:
            self._lock.release()

    def warm(self) -> None:
        """Fetch the keys now (at start-up), so the first requests do not wait for them; a
        failure is logged and retried on demand."""
        with self._lock:
            if self._fetched_at is None:
                self._refresh(self._clock())

    def _due(self, kid: str, now: float) -> bool:
        if self._fetched_at is None:
            return True
        age = now - self._fetched_at
        if not self._keys:
            return age >= RETRY_SECONDS
        return age >= MAX_KEYS_AGE_SECONDS or (kid not in self._keys and age >= MIN_REFETCH_SECONDS)

    def _refresh(self, now: float) -> None:
        self._fetched_at = now
        try:
            keys = _signing_keys(self._fetch(self.url))
        except Exception as error:  # urllib, JSON or key errors alike: the keys stay as known
            log.warning("JWKS %s unreadable: %s", self.url, error)
            self._failure = " ".join(str(error).split()) or type(error).__name__
            return
        self._keys, self._failure = keys, ""


def _signing_keys(document: Any) -> dict[str, jwt.PyJWK]:
    """The RS256 signing keys of a JWKS document, by kid (others are left out)."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (no keys list)")
    keys = {}
    for entry in document["keys"]:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig":
            continue
        if entry.get("alg", ALGORITHM) != ALGORITHM:
            continue
        keys[entry["kid"]] = jwt.PyJWK(dict(entry), algorithm=ALGORITHM)
    return keys


_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidIssuedAtError, "the token's iat is not a time"),
    (jwt.InvalidIssuerError, "the token is from another issuer"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.MissingRequiredClaimError, "the token lacks a required claim"),
)


class TokenValidator:
    """Checks an access token against one issuer and its app clients we accept."""

    def __init__(
        self,
        *,
        issuer: str,
        client_ids: frozenset[str],
        keys: JwksCache,
        leeway: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.client_ids = client_ids
        self.keys = keys
        self.leeway = leeway
        self._clock = clock
        # token -> (its user, until when it is taken without a check: epoch seconds), oldest
        # first; changed by the worker threads that check tokens and by the event loop.
        self._verified: OrderedDict[str, tuple[User, float]] = OrderedDict()
        self._verified_lock = threading.Lock()

    def verified(self, token: str) -> User | None:
        """The user of a token :meth:`validate` accepted and that is still good; else None.

        Never blocks and does no cryptography: fit for the event loop."""
        entry = self._verified.get(token)
        if entry is None:
            return None
        user, until = entry
        if self._clock() < until:
            return user
        with self._verified_lock:
            self._verified.pop(token, None)
        return None

    def validate(self, token: str) -> User:
        """The token's user; InvalidTokenError or KeysUnavailableError otherwise."""
        user, expires = self._check(token)
        # exp + leeway is what jwt.decode itself would still accept.
        until = min(expires + self.leeway, self._clock() + VERIFIED_TOKEN_SECONDS)
        with self._verified_lock:
            while len(self._verified) >= MAX_VERIFIED_TOKENS:
                self._verified.popitem(last=False)
            self._verified[token] = (user, until)
        return user

    def _check(self, token: str) -> tuple[User, float]:
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidTokenError("the token is too long")
        key = self._signing_key(token)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                leeway=self.leeway,
                # Cognito's access tokens carry client_id, not aud: checked below.
                options={"require": REQUIRED_CLAIMS, "verify_aud": False},
            )
        except jwt.InvalidTokenError as error:
            reason = next((text for kind, text in _REASONS if isinstance(error, kind)), None)
            raise InvalidTokenError(reason or "the token is malformed") from None
        if claims.get("token_use") != "access":
            raise InvalidTokenError("not an access token")
        if claims.get("client_id") not in self.client_ids:
            raise InvalidTokenError("the token was issued to another client")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 0 < len(subject) <= 128:
            raise InvalidTokenError("the token's subject is not a user id")
        username = claims.get("username")
        user = User(subject=subject, username=username if isinstance(username, str) else None)
        return user, float(claims["exp"])

    def _signing_key(self, token: str) -> jwt.PyJWK:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidTokenError("the token is malformed") from None
        if header.get("alg") != ALGORITHM:
            raise InvalidTokenError(f"the token is not signed with {ALGORITHM}")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidTokenError("the token names no signing key")
        key = self.keys.key(kid)
        if key is None:
            raise InvalidTokenError("the token's signing key is not the issuer's")
        return key


def _unauthorized(reason: str, *, error: str | None) -> ProblemError:
    """A 401 problem; RFC 6750's challenge names the error when a token was sent."""
    challenge = 'Bearer realm="todo"'
    if error is not None:
        escaped = reason.replace('"', "'")
        challenge += f', error="{error}", error_description="{escaped}"'
    return ProblemError(
        401,
        f"Authorization: {reason}",
        type_=UNAUTHORIZED,
        title="Sign-in required",
        headers={"WWW-Authenticate": challenge},
    )


class BearerUser(SecurityBase):
    """The dependency that answers who is asking: the bearer token of the ``Authorization``
    header, checked. Documented in OpenAPI as FastAPI's ``HTTPBearer`` is (the scheme and its
    name), and one dependency instead of two: ``HTTPBearer``'s credentials object, solved as a
    dependency of its own, cost every request more than looking up the token did."""

    def __init__(self, *, description: str) -> None:
        self.model = HTTPBearerModel(bearerFormat="JWT", description=description)
        self.scheme_name = "HTTPBearer"

    async def __call__(self, request: Request) -> User:
        """The signed-in user of this request, or a 401 problem (no bearer token: our own
        problem, not FastAPI's plain 403).

        A token already proven is answered on the event loop; a new one is checked in a worker
        thread (fetching the keys may block for seconds)."""
        scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
        if not token or scheme.lower() != "bearer":
            raise _unauthorized("a Bearer access token is required", error=None)
        validator: TokenValidator = request.app.state.token_validator
        user = validator.verified(token)
        if user is not None:
            return user
        return await anyio.to_thread.run_sync(_validated, validator, token)


current_user = BearerUser(
    description="An access token from the issuer (Amazon Cognito; `make dev`: the local one)."
)


def _validated(validator: TokenValidator, token: str) -> User:
    try:
        return validator.validate(token)
    except InvalidTokenError as error:
        raise _unauthorized(str(error), error="invalid_token") from None
    except KeysUnavailableError as error:
        raise ProblemError(
            503,
            f"Authorization: {error}; try again shortly",
            type_=KEYS_UNAVAILABLE,
            title="Sign-in cannot be checked",
            headers={"Retry-After": "5"},
        ) from None


CurrentUser = Annotated[User, Depends(current_user)]
