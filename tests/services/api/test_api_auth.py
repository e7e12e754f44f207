"""Access tokens on every route, and each user's data kept apart (docs/auth.md).

The tokens come from a real issuer (tests/support/issuer.py): an RSA key whose JWKS the API
fetches over HTTP, as it fetches Cognito's in AWS. Nothing in the validation path is stubbed.
"""

from __future__ import annotations

import time
import urllib.error
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tests.support.databases import Database
from tests.support.issuer import OTHER_USER, USER, Issuer, running_issuer
from tests.support.problems import assert_problem
from todo_api.app import create_app
from todo_api.auth import (
    MAX_KEYS_AGE_SECONDS,
    MIN_REFETCH_SECONDS,
    VERIFIED_TOKEN_SECONDS,
    InvalidTokenError,
    JwksCache,
    TokenValidator,
    fetch_json,
)
from todo_devstack.jwks import Signer

SOME_ID = "00000000-0000-4000-8000-000000000000"
# Every route that needs a user: (method, path, body). Health and readiness stay public.
PROTECTED = [
    ("GET", "/api/todos", None),
    ("POST", "/api/todos", {"text": "x"}),
    ("GET", f"/api/todos/{SOME_ID}", None),
    ("PUT", f"/api/todos/{SOME_ID}", {"completed": True}),
    ("DELETE", f"/api/todos/{SOME_ID}", None),
    ("GET", "/api/activity", None),
]
PUBLIC = ["/api/health", "/api/ready"]


def test_every_route_but_health_and_readiness_is_listed_here(app: FastAPI) -> None:
    """A new route must be added to PROTECTED (or PUBLIC) to be tested at all."""
    routes = {
        (method, route.path)
        for route in app.state.api_routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    listed = {(method, path.replace(SOME_ID, "{todo_id}")) for method, path, _ in PROTECTED}
    assert routes == listed | {("GET", path) for path in PUBLIC}


def _call(client: TestClient, method: str, path: str, body: Any, **headers: str) -> Any:
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_no_token_is_a_401_problem_with_a_bearer_challenge(
    anonymous: TestClient, method: str, path: str, body: Any
) -> None:
    response = _call(anonymous, method, path, body)
    problem = assert_problem(response, 401, instance=path)
    assert problem["type"] == "urn:todo:problem:unauthorized"
    assert problem["detail"] == "Authorization: a Bearer access token is required"
    assert response.headers["www-authenticate"] == 'Bearer realm="todo"'


def _forgeries(issuer: Issuer) -> list[tuple[str, str, str]]:
    """(case, token, why it is refused)."""
    now = int(time.time())
    return [
        ("expired", issuer.token(USER, exp=now - 120, iat=now - 3720), "the token has expired"),
        (
            "another client",
            issuer.token(USER, client_id="someoneelse"),
            "the token was issued to another client",
        ),
        (
            "another issuer",
            issuer.token(USER, iss="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other"),
            "the token is from another issuer",
        ),
        (
            "another key, same kid",
            issuer.token(USER, key=issuer.stranger),
            "the token's signature does not verify",
        ),
        (
            "another key and kid",
            issuer.token(USER, key=issuer.stranger, kid="not-published"),
            "the token's signing key is not the issuer's",
        ),
        ("an ID token", issuer.token(USER, token_use="id"), "not an access token"),
        ("no expiry", issuer.token(USER, exp=None), "the token lacks a required claim"),
        ("issued later", issuer.token(USER, iat=now + 600), "the token is not valid yet"),
        (
            "HMAC",
            issuer.token(USER, key=b"k" * 32),
            "the token is not signed with RS256",
        ),
        ("not a JWT", "abc.def", "the token is malformed"),
    ]


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_a_token_that_proves_nothing_is_a_401_saying_why(
    anonymous: TestClient, issuer: Issuer, method: str, path: str, body: Any
) -> None:
    for case, token, why in _forgeries(issuer):
        response = _call(anonymous, method, path, body, Authorization=f"Bearer {token}")
        problem = assert_problem(response, 401, instance=path)
        assert problem["detail"] == f"Authorization: {why}", case
        assert response.headers["www-authenticate"] == (
            f'Bearer realm="todo", error="invalid_token", error_description="{why}"'
        ), case


def test_each_trusted_app_client_is_accepted_and_only_those(db: Database, issuer: Issuer) -> None:
    settings = db.settings.model_copy(update={"auth_client_id": f"{issuer.client_id},checks"})
    with TestClient(create_app(settings, db.engine), raise_server_exceptions=False) as api:

        def status(client_id: str) -> int:
            headers = issuer.headers(USER, client_id=client_id)
            return api.get("/api/todos", headers=headers).status_code

        assert [status(issuer.client_id), status("checks"), status("other")] == [200, 200, 401]


def test_a_token_in_another_scheme_is_no_token(anonymous: TestClient, issuer: Issuer) -> None:
    token = issuer.token(USER)
    response = anonymous.get("/api/todos", headers={"Authorization": f"Basic {token}"})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == 'Bearer realm="todo"'


def test_a_clock_a_little_behind_the_issuers_is_forgiven(
    anonymous: TestClient, issuer: Issuer
) -> None:
    """AUTH_LEEWAY_SECONDS (30): expired 10 s ago still passes, 60 s ago does not."""
    now = int(time.time())
    recent = issuer.token(USER, exp=now - 10, iat=now - 3610)
    assert anonymous.get("/api/todos", headers={"Authorization": f"Bearer {recent}"}).is_success
    stale = issuer.token(USER, exp=now - 60, iat=now - 3660)
    assert (
        anonymous.get("/api/todos", headers={"Authorization": f"Bearer {stale}"}).status_code == 401
    )


@pytest.mark.parametrize("path", PUBLIC)
def test_health_and_readiness_need_no_token(anonymous: TestClient, path: str) -> None:
    assert anonymous.get(path).status_code == 200


# -------------------------------------------------------------------- two users, one database


@pytest.fixture
def other(app: FastAPI, issuer: Issuer) -> Iterator[TestClient]:
    """The API as OTHER_USER."""
    with TestClient(
        app, raise_server_exceptions=False, headers=issuer.headers(OTHER_USER)
    ) as test_client:
        yield test_client


def test_each_user_sees_changes_and_deletes_only_their_own_todos(
    client: TestClient, other: TestClient, db: Database
) -> None:
    mine = client.post("/api/todos", json={"text": "mine"}).json()
    theirs = other.post("/api/todos", json={"text": "theirs"}).json()

    assert [todo["text"] for todo in client.get("/api/todos").json()] == ["mine"]
    assert [todo["text"] for todo in other.get("/api/todos").json()] == ["theirs"]
    # Another user's todo is not found, exactly like one that never existed.
    for method, body in (("GET", None), ("PUT", {"completed": True}), ("DELETE", None)):
        response = other.request(method, f"/api/todos/{mine['id']}", json=body)
        problem = assert_problem(response, 404)
        assert problem["detail"] == f"id: no todo {mine['id']!r}"
    assert client.get(f"/api/todos/{mine['id']}").json() == mine
    assert client.get(f"/api/todos/{theirs['id']}").status_code == 404
    assert db.count() == 2


def test_rows_from_before_ownership_belong_to_nobody(client: TestClient, db: Database) -> None:
    """Migration 0003 leaves existing rows without an owner: kept, shown to no one."""
    from sqlalchemy import text  # noqa: PLC0415

    key = uuid.uuid4()
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO todos (id, text, completed, created_at, updated_at, version) "
                "VALUES (:id, 'old', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
            ),
            {"id": key.hex if db.kind == "sqlite" else str(key)},
        )
    assert client.get("/api/todos").json() == []
    assert client.get(f"/api/todos/{key}").status_code == 404
    assert client.delete(f"/api/todos/{key}").status_code == 404
    assert db.count() == 1


# -------------------------------------------------------------------- the issuer's keys


def test_a_rotated_key_is_fetched_and_made_up_kids_cost_no_fetch(db: Database) -> None:
    """A token naming a new kid refetches the JWKS (a rotation needs no restart); forged kids
    right after do not turn into requests to the issuer."""
    now = [0.0]
    with running_issuer() as issuer:
        app = create_app(
            db.settings.model_copy(update={"auth_issuer": issuer.url, "auth_jwks_url": None}),
            db.engine,
        )
        validator = app.state.token_validator
        validator.keys = JwksCache(validator.keys.url, clock=lambda: now[0])  # the real fetch

        def status(token: str) -> int:
            return api.get("/api/todos", headers={"Authorization": f"Bearer {token}"}).status_code

        with TestClient(app, raise_server_exceptions=False) as api:
            assert status(issuer.token(USER)) == 200
            assert issuer.fetches == 1
            rotated = Issuer(url=issuer.url, signer=Signer("test-key-2"))
            issuer.published.append(rotated.published[0])
            now[0] += MIN_REFETCH_SECONDS
            assert status(rotated.token(USER)) == 200
            assert issuer.fetches == 2
            forged = [issuer.token(USER, key=issuer.stranger, kid=f"x{n}") for n in range(5)]
            assert [status(token) for token in forged] == [401] * 5
            assert issuer.fetches == 2


def test_the_keys_are_refetched_for_an_unknown_kid_only_after_a_pause() -> None:
    fetched: list[float] = []
    now = [1000.0]
    with running_issuer() as issuer:
        document = {"keys": issuer.published}

        def fetch(_url: str) -> Any:
            fetched.append(now[0])
            return document

        cache = JwksCache("unused", fetch=fetch, clock=lambda: now[0])
        assert cache.key(issuer.kid) is not None
        assert cache.key("unknown") is None
        now[0] += MIN_REFETCH_SECONDS
        assert cache.key("unknown") is None
    assert fetched == [1000.0, 1000.0 + MIN_REFETCH_SECONDS]


def test_unreachable_keys_are_a_503_not_a_401_or_a_500(db: Database, issuer: Issuer) -> None:
    """The token may be fine: the client should try again, not sign in again."""
    settings = db.settings.model_copy(update={"auth_jwks_url": "http://127.0.0.1:9/jwks.json"})
    with TestClient(create_app(settings, db.engine), raise_server_exceptions=False) as api:
        response = api.get("/api/todos", headers=issuer.headers(USER))
    problem = assert_problem(response, 503)
    assert problem["type"] == "urn:todo:problem:keys-unavailable"
    assert problem["detail"].startswith("Authorization: the issuer's keys are unreachable: ")
    assert response.headers["retry-after"] == "5"


def test_a_known_key_is_served_while_another_thread_refreshes_the_set() -> None:
    """A refresh may take seconds (the issuer slow or gone): requests whose key is known do
    not queue behind it; only one thread fetches."""
    signer = Signer("k1")
    now = [0.0]
    cache = JwksCache("unused", fetch=lambda _url: {"keys": [signer.jwk]}, clock=lambda: now[0])
    cache.warm()
    now[0] += MAX_KEYS_AGE_SECONDS  # stale: the next caller would refresh
    with cache._lock:  # another thread is fetching right now
        assert cache.key("k1") is not None
        assert cache.key("k1").key_id == "k1"  # type: ignore[union-attr]


def test_the_keys_come_from_their_url_only_a_redirect_is_refused() -> None:
    import threading  # noqa: PLC0415
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: PLC0415

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:9/elsewhere.json")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(urllib.error.HTTPError) as raised:
            fetch_json(f"http://127.0.0.1:{server.server_address[1]}/jwks.json")
        assert raised.value.code == 302
    finally:
        server.shutdown()
        server.server_close()


# ----------------------------------------------------------------- tokens proven once


def _validator(issuer: Issuer, now: list[float]) -> TokenValidator:
    return TokenValidator(
        issuer=issuer.url,
        client_ids=frozenset({issuer.client_id}),
        keys=JwksCache(f"{issuer.url.rstrip('/')}/.well-known/jwks.json"),
        leeway=30,
        clock=lambda: now[0],
    )


def test_a_proven_token_is_taken_until_it_expires_or_its_time_in_the_cache_ends(
    issuer: Issuer,
) -> None:
    now = [time.time()]
    validator = _validator(issuer, now)
    long_lived = issuer.token(USER, exp=int(now[0]) + 3 * 3600)
    short_lived = issuer.token(OTHER_USER, exp=int(now[0]) + 60)
    assert validator.verified(long_lived) is None  # never checked: not taken
    assert validator.validate(long_lived).subject == USER
    assert validator.validate(short_lived).subject == OTHER_USER
    now[0] += 60 + 29
    assert validator.verified(long_lived) is not None
    assert validator.verified(short_lived) is not None  # within the leeway jwt.decode allows
    now[0] += 2
    assert validator.verified(short_lived) is None  # expired: checked again (and refused)
    now[0] += VERIFIED_TOKEN_SECONDS
    assert validator.verified(long_lived) is None  # proven too long ago: checked again


def test_a_refused_token_is_never_taken(issuer: Issuer) -> None:
    validator = _validator(issuer, [time.time()])
    forged = issuer.token(USER, key=issuer.stranger)
    with pytest.raises(InvalidTokenError):
        validator.validate(forged)
    assert validator.verified(forged) is None


def test_the_cache_of_proven_tokens_is_bounded_oldest_first(
    issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("todo_api.auth.MAX_VERIFIED_TOKENS", 3)
    validator = _validator(issuer, [time.time()])
    tokens = [issuer.token(f"user-{n}") for n in range(4)]
    for token in tokens:
        validator.validate(token)
    assert [validator.verified(token) is not None for token in tokens] == [
        False,
        True,
        True,
        True,
    ]


def test_a_proven_token_is_answered_without_a_worker_thread(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check of a new token may fetch keys and runs in a thread; a proven one is a dict
    look-up on the event loop."""
    assert client.get("/api/todos").status_code == 200
    checks: list[str] = []
    real = TokenValidator.validate

    def counted(self: TokenValidator, token: str) -> Any:
        checks.append(token)
        return real(self, token)

    monkeypatch.setattr(TokenValidator, "validate", counted)
    assert [client.get("/api/todos").status_code for _ in range(3)] == [200] * 3
    assert checks == []


@pytest.mark.parametrize(
    ("scheme", "token", "signed_in"),
    [
        ("bearer", "{token}", True),  # the scheme is case-insensitive (RFC 7235)
        ("BEARER", "{token}", True),
        ("Bearer", "", False),
        ("Basic", "{token}", False),
        ("", "{token}", False),
    ],
)
def test_the_authorization_header_is_read_as_a_bearer_credential(
    anonymous: TestClient, issuer: Issuer, scheme: str, token: str, signed_in: bool
) -> None:
    header = f"{scheme} {token.format(token=issuer.token(USER))}".strip()
    response = anonymous.get("/api/todos", headers={"Authorization": header})
    if signed_in:
        assert response.status_code == 200, response.text
        return
    problem = assert_problem(response, 401, instance="/api/todos")
    assert problem["detail"] == "Authorization: a Bearer access token is required"
