"""The dev stack's local identity provider (todo_devstack.issuer), over real HTTP: the code
flow with PKCE as the web app runs it, the refusals, and tokens that verify against its JWKS
with Cognito's claims."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import uvicorn

from todo_devstack.__main__ import SERVICES, auth_environment
from todo_devstack.identity import StoreError, UserStore
from todo_devstack.issuer import (
    CLIENT_ID,
    CODE_SECONDS,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    SESSION_COOKIE,
    Issuer,
    IssuerSettings,
    s256,
)
from todo_devstack.jwks import ACCESS_TOKEN_SECONDS as TOKEN_SECONDS
from todo_devstack.launch import python_path
from todo_devstack.sqs import free_port, wait_http

APP_ORIGIN = "http://127.0.0.1:18080"
REDIRECT_URI = f"{APP_ORIGIN}/"
# RFC 7636 appendix B.
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
ACCESS_CLAIMS = {
    "iss", "sub", "client_id", "token_use", "scope", "auth_time", "iat", "exp", "jti", "username"
}  # fmt: skip
ID_CLAIMS = {
    "iss", "sub", "aud", "token_use", "email", "cognito:username", "auth_time", "iat", "exp",
    "jti",
}  # fmt: skip


@dataclass
class Clock:
    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()

    @property
    def location_query(self) -> dict[str, str]:
        query = parse_qs(urlsplit(self.headers["Location"]).query)
        return {name: values[-1] for name, values in query.items()}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


class Browser:
    """Requests with a cookie jar and no redirects followed: each hop is checked."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(
            _NoRedirect, urllib.request.HTTPCookieProcessor(self.cookies)
        )

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Reply:
        data = urlencode(form).encode() if form is not None else body
        all_headers = dict(headers or {})
        if form is not None:
            all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        # Loopback http only: the issuer this module started.
        request = urllib.request.Request(  # noqa: S310
            self.base + path, data=data, method=method, headers=all_headers
        )
        try:
            with self.opener.open(request, timeout=10) as response:
                return Reply(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, error.headers, error.read())

    def get(self, path: str, **params: str) -> Reply:
        return self.request("GET", f"{path}?{urlencode(params)}" if params else path)

    def has_session(self) -> bool:
        return any(cookie.name == SESSION_COOKIE for cookie in self.cookies)


@dataclass
class Running:
    issuer: Issuer
    url: str
    clock: Clock

    def browser(self) -> Browser:
        return Browser(self.url)


@pytest.fixture
def local_issuer(tmp_path: Path) -> Iterator[Running]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    clock = Clock()
    settings = IssuerSettings(
        issuer=url, app_origin=APP_ORIGIN, users_file=tmp_path / "issuer" / "users.json"
    )
    issuer = Issuer(settings, clock=clock)
    issuer.users.ensure(DEMO_EMAIL, DEMO_PASSWORD)
    config = uvicorn.Config(issuer.app(), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_http(f"{url}/.well-known/jwks.json", timeout=20)
    try:
        yield Running(issuer=issuer, url=url, clock=clock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def authorize_params(**overrides: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "state": "state-123",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "scope": "openid email",
    }
    params.update(overrides)
    return {name: value for name, value in params.items() if value != "<none>"}


def submit(browser: Browser, action: str, email: str, password: str, **overrides: str) -> Reply:
    form = {**authorize_params(**overrides), "action": action, "email": email}
    return browser.request("POST", "/oauth2/authorize", {**form, "password": password})


def exchange(browser: Browser, code: str, /, **overrides: str) -> Reply:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "code_verifier": VERIFIER,
        **overrides,
    }
    return browser.request("POST", "/oauth2/token", form, headers={"Origin": APP_ORIGIN})


def sign_up(browser: Browser, email: str = "ada@example.com") -> str:
    """A new user through the sign-up form; the code it brings back."""
    reply = submit(browser, "signup", email, "correct horse battery")
    assert reply.status == 302, reply.text
    return reply.location_query["code"]


# ------------------------------------------------------------------ the flow


def test_the_code_flow_with_pkce_issues_cognito_shaped_tokens_that_verify(
    local_issuer: Running,
) -> None:
    browser = local_issuer.browser()
    page = browser.get("/oauth2/authorize", **authorize_params())
    assert page.status == 200
    assert 'aria-label="Sign in"' in page.text
    assert 'aria-label="Create an account"' in page.text
    assert f'value="{CHALLENGE}"' in page.text

    reply = submit(browser, "signup", "Ada@Example.com ", "correct horse battery")
    assert reply.status == 302
    assert reply.headers["Location"].startswith(REDIRECT_URI + "?")
    assert reply.location_query["state"] == "state-123"
    assert browser.has_session()

    tokens = exchange(browser, reply.location_query["code"])
    assert tokens.status == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == TOKEN_SECONDS
    assert tokens.headers["Cache-Control"] == "no-store"

    keys = jwt.PyJWKClient(f"{local_issuer.url}/.well-known/jwks.json")
    access_key = keys.get_signing_key_from_jwt(body["access_token"])
    assert jwt.get_unverified_header(body["access_token"]) == {
        "alg": "RS256",
        "kid": access_key.key_id,
    }
    access = jwt.decode(
        body["access_token"], access_key, algorithms=["RS256"], issuer=local_issuer.url
    )
    assert set(access) == ACCESS_CLAIMS
    assert access["token_use"] == "access"
    assert access["client_id"] == CLIENT_ID
    assert access["scope"] == "openid email"
    assert access["username"] == access["sub"]
    assert access["exp"] - access["iat"] == TOKEN_SECONDS
    assert re.fullmatch(r"[0-9a-f-]{36}", access["sub"])

    identity = jwt.decode(
        body["id_token"],
        keys.get_signing_key_from_jwt(body["id_token"]),
        algorithms=["RS256"],
        issuer=local_issuer.url,
        audience=CLIENT_ID,
    )
    assert set(identity) == ID_CLAIMS
    assert identity["token_use"] == "id"
    assert identity["email"] == "ada@example.com"
    assert identity["sub"] == identity["cognito:username"] == access["sub"]
    assert identity["auth_time"] == access["auth_time"]


def test_the_demo_user_signs_in_and_a_wrong_password_is_refused_on_the_form(
    local_issuer: Running,
) -> None:
    browser = local_issuer.browser()
    wrong = submit(browser, "signin", DEMO_EMAIL, "not the password")
    assert wrong.status == 401
    assert "Incorrect email or password." in wrong.text
    assert 'role="alert"' in wrong.text
    assert "Traceback" not in wrong.text
    assert f'value="{DEMO_EMAIL}"' in wrong.text
    assert not browser.has_session()

    right = submit(browser, "signin", DEMO_EMAIL, DEMO_PASSWORD)
    assert right.status == 302
    assert exchange(browser, right.location_query["code"]).status == 200


@pytest.mark.parametrize(
    ("email", "password", "status", "message"),
    [
        (DEMO_EMAIL, "another password", 409, "An account with this email already exists."),
        ("not-an-email", "long enough password", 400, "Enter a valid email address."),
        ("new@example.com", "short", 400, "The password must have 8 to 256 characters."),
    ],
)
def test_a_sign_up_refused_says_why(
    local_issuer: Running, email: str, password: str, status: int, message: str
) -> None:
    reply = submit(local_issuer.browser(), "signup", email, password)
    assert reply.status == status
    assert message in reply.text


def test_a_live_session_answers_authorize_without_a_prompt_until_logout(
    local_issuer: Running,
) -> None:
    browser = local_issuer.browser()
    sign_up(browser)

    again = browser.get("/oauth2/authorize", **authorize_params(state="second"))
    assert again.status == 302
    assert again.location_query["state"] == "second"
    assert exchange(browser, again.location_query["code"]).status == 200

    out = browser.get("/logout", client_id=CLIENT_ID, logout_uri=REDIRECT_URI)
    assert out.status == 302
    assert out.headers["Location"] == REDIRECT_URI
    assert not browser.has_session()
    assert browser.get("/oauth2/authorize", **authorize_params()).status == 200


def test_a_session_ends_after_an_hour(local_issuer: Running) -> None:
    browser = local_issuer.browser()
    sign_up(browser)
    local_issuer.clock.now += 3601
    assert browser.get("/oauth2/authorize", **authorize_params()).status == 200


def test_logout_to_an_unregistered_uri_is_refused(local_issuer: Running) -> None:
    browser = local_issuer.browser()
    reply = browser.get("/logout", client_id=CLIENT_ID, logout_uri="https://evil.example/")
    assert reply.status == 400
    assert "is not registered" in reply.text
    assert browser.get("/logout", client_id="other", logout_uri=REDIRECT_URI).status == 400


# ------------------------------------------------------------------ authorize refusals


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"redirect_uri": "https://evil.example/"}, "is not registered for this client"),
        ({"redirect_uri": f"{APP_ORIGIN}/callback"}, "is not registered for this client"),
        ({"redirect_uri": "<none>"}, "is not registered for this client"),
        ({"client_id": "someone-else"}, "Unknown client_id"),
    ],
)
def test_an_unregistered_client_or_redirect_uri_gets_a_page_not_a_redirect(
    local_issuer: Running, overrides: dict[str, str], message: str
) -> None:
    reply = local_issuer.browser().get("/oauth2/authorize", **authorize_params(**overrides))
    assert reply.status == 400
    assert "Location" not in reply.headers
    assert message in reply.text


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": "<none>"}, "invalid_request"),
        ({"code_challenge": "<none>"}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "openid admin"}, "invalid_scope"),
    ],
)
def test_a_bad_authorize_request_goes_back_with_an_oauth_error(
    local_issuer: Running, overrides: dict[str, str], error: str
) -> None:
    reply = local_issuer.browser().get("/oauth2/authorize", **authorize_params(**overrides))
    assert reply.status == 302
    assert reply.headers["Location"].startswith(REDIRECT_URI)
    query = reply.location_query
    assert query["error"] == error
    assert query["state"] == "state-123"
    assert "code" not in query


def test_a_form_post_that_is_not_a_form_gets_a_page(local_issuer: Running) -> None:
    browser = local_issuer.browser()
    reply = browser.request(
        "POST", "/oauth2/authorize", body=b"{}", headers={"Content-Type": "application/json"}
    )
    assert reply.status == 400
    assert "application/x-www-form-urlencoded" in reply.text


# ------------------------------------------------------------------ token refusals


def test_a_wrong_verifier_is_refused_and_burns_the_code(local_issuer: Running) -> None:
    browser = local_issuer.browser()
    code = sign_up(browser)
    wrong = exchange(browser, code, code_verifier="x" * 43)
    assert wrong.status == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert "code_verifier" in wrong.json()["error_description"]
    assert exchange(browser, code).json()["error"] == "invalid_grant"


def test_a_code_is_good_once(local_issuer: Running) -> None:
    browser = local_issuer.browser()
    code = sign_up(browser)
    assert exchange(browser, code).status == 200
    reused = exchange(browser, code)
    assert reused.status == 400
    assert reused.json() == {
        "error": "invalid_grant",
        "error_description": "the code is unknown, expired or already used",
    }


def test_a_code_expires_after_five_minutes(local_issuer: Running) -> None:
    browser = local_issuer.browser()
    code = sign_up(browser)
    local_issuer.clock.now += CODE_SECONDS + 1
    assert exchange(browser, code).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"redirect_uri": f"{APP_ORIGIN}/other"}, "invalid_grant"),
        ({"code_verifier": ""}, "invalid_grant"),
        ({"client_id": "someone-else"}, "invalid_client"),
        ({"grant_type": "refresh_token"}, "unsupported_grant_type"),
        ({"code": "made-up"}, "invalid_grant"),
    ],
)
def test_a_bad_token_request_is_an_oauth_error(
    local_issuer: Running, overrides: dict[str, str], error: str
) -> None:
    browser = local_issuer.browser()
    reply = exchange(browser, sign_up(browser), **overrides)
    assert reply.status == 400
    assert reply.json()["error"] == error
    assert reply.headers["Content-Type"] == "application/json"


def test_a_token_request_that_is_not_a_form_is_invalid(local_issuer: Running) -> None:
    browser = local_issuer.browser()
    as_json = browser.request(
        "POST", "/oauth2/token", body=b"{}", headers={"Content-Type": "application/json"}
    )
    assert as_json.status == 400
    assert as_json.json()["error"] == "invalid_request"
    repeated = browser.request(
        "POST",
        "/oauth2/token",
        body=b"code=a&code=b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert repeated.json() == {
        "error": "invalid_request",
        "error_description": "the parameter 'code' is repeated",
    }
    huge = browser.request("POST", "/oauth2/token", {"code": "x" * 20_000})
    assert huge.json()["error"] == "invalid_request"


def test_the_token_endpoint_allows_the_app_origin_only(local_issuer: Running) -> None:
    browser = local_issuer.browser()
    allowed = exchange(browser, sign_up(browser))
    assert allowed.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    other = browser.request(
        "POST", "/oauth2/token", {"code": "x"}, headers={"Origin": "http://127.0.0.1:1"}
    )
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = browser.request("OPTIONS", "/oauth2/token", headers={"Origin": APP_ORIGIN})
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert preflight.headers["Access-Control-Allow-Methods"] == "POST"


# ------------------------------------------------------------------ discovery and config


def test_discovery_and_the_web_apps_runtime_config(local_issuer: Running) -> None:
    browser = local_issuer.browser()
    url = local_issuer.url
    jwks = browser.get("/.well-known/jwks.json").json()
    assert [set(key) for key in jwks["keys"]] == [{"kty", "n", "e", "kid", "alg", "use"}]
    assert jwks["keys"][0]["alg"] == "RS256"
    assert jwks["keys"][0]["use"] == "sig"
    discovery = browser.get("/.well-known/openid-configuration").json()
    assert discovery["issuer"] == url
    assert discovery["jwks_uri"] == f"{url}/.well-known/jwks.json"
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert browser.get("/devstack/config.json").json() == {
        "auth": {
            "issuer": url,
            "clientId": CLIENT_ID,
            "authorizeUrl": f"{url}/oauth2/authorize",
            "tokenUrl": f"{url}/oauth2/token",
            "logoutUrl": f"{url}/logout",
            "redirectUri": REDIRECT_URI,
            "logoutUri": REDIRECT_URI,
            "scopes": ["openid", "email"],
        }
    }
    assert auth_environment(url) == {
        "AUTH_ISSUER": url,
        "AUTH_CLIENT_ID": CLIENT_ID,
        "AUTH_JWKS_URL": f"{url}/.well-known/jwks.json",
    }


def test_the_s256_challenge_is_rfc_7636s() -> None:
    assert s256(VERIFIER) == CHALLENGE


# ------------------------------------------------------------------ users


def test_users_keep_their_sub_across_restarts_and_passwords_are_hashed(tmp_path: Path) -> None:
    path = tmp_path / "issuer" / "users.json"
    first = UserStore(path).sign_up("grace@example.com", "a long password")
    demo = UserStore(path).ensure(DEMO_EMAIL, DEMO_PASSWORD)
    again = UserStore(path)
    assert again.sign_in("grace@example.com", "a long password").sub == first.sub
    assert again.ensure(DEMO_EMAIL, DEMO_PASSWORD).sub == demo.sub
    assert "a long password" not in path.read_text()


def test_a_broken_users_file_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(StoreError, match=re.escape(str(path))):
        UserStore(path)


def test_the_issuer_process_serves_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "todo_devstack.issuer", "--port", str(port)),
            *("--app-origin", APP_ORIGIN, "--data-dir", str(tmp_path)),
        ],
        env={**os.environ, "PYTHONPATH": python_path(SERVICES)},
        start_new_session=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/.well-known/jwks.json", 30, process)
        assert (tmp_path / "issuer" / "users.json").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
