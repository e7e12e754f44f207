"""``python -m todo_devstack.issuer``: the dev stack's local identity provider.

A stand-in for Cognito's managed login, as far as this app uses it (docs/auth.md): the
authorization code flow with PKCE (S256 only) for one public client, the web app, whose
redirect and logout URI is the app's origin. It issues real RS256 tokens shaped like
Cognito's, so the API validates them with the code that runs in AWS:

* ``GET /.well-known/jwks.json``, ``GET /.well-known/openid-configuration``;
* ``GET /oauth2/authorize``: the sign-in/sign-up page, or straight back with a code when
  the session cookie is live; the page ``POST``\\s to the same path;
* ``POST /oauth2/token``: a one-time, five-minute code and its verifier for the tokens;
* ``GET /logout?client_id&logout_uri``: ends the session, back to the logout URI;
* ``GET /devstack/config.json``: the web app's runtime config (``/config.json`` on the app's
  origin, proxied by ``vite preview``; in AWS the infra writes that file).

It listens on 127.0.0.1 only. Users: :mod:`todo_devstack.identity`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import re
import secrets
import signal
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from todo_devstack.identity import StoreError, User, UserError, UserStore
from todo_devstack.issuer_page import error_page, login_page
from todo_devstack.jwks import ACCESS_TOKEN_SECONDS, Signer, access_claims

# Shaped like a Cognito app client id (word characters), as the API checks it.
CLIENT_ID = "todolocalwebclient"
# Fixed, so the line printed at start stays true across restarts; loopback only.
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - the local demo user's, printed at start
SCOPES = ("openid", "email")
SUPPORTED_SCOPES = frozenset({"openid", "email", "profile", "phone"})
CODE_SECONDS = 300
SESSION_SECONDS = 3600
# 127.0.0.1 cookies are shared by every port: a name no other local service uses.
SESSION_COOKIE = "todo_local_issuer_session"
MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 20
MAX_STATE = 1024
CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """An OAuth error response: ``code`` is the ``error`` member (RFC 6749 section 5.2)."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class IssuerSettings:
    issuer: str
    app_origin: str
    client_id: str = CLIENT_ID
    users_file: Path | None = None

    @property
    def redirect_uri(self) -> str:
        return f"{self.app_origin}/"

    def web_config(self) -> dict[str, Any]:
        """The web app's ``/config.json`` (the same shape the infra writes in AWS)."""
        return {
            "auth": {
                "issuer": self.issuer,
                "clientId": self.client_id,
                "authorizeUrl": f"{self.issuer}/oauth2/authorize",
                "tokenUrl": f"{self.issuer}/oauth2/token",
                "logoutUrl": f"{self.issuer}/logout",
                "redirectUri": self.redirect_uri,
                "logoutUri": self.redirect_uri,
                "scopes": list(SCOPES),
            }
        }


@dataclass(frozen=True)
class AuthorizeRequest:
    client_id: str
    redirect_uri: str
    state: str | None
    challenge: str
    scope: str

    def fields(self) -> dict[str, str]:
        """The parameters again, for the page's hidden fields."""
        fields = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
            "scope": self.scope,
        }
        return fields | ({"state": self.state} if self.state is not None else {})


@dataclass(frozen=True)
class Grant:
    sub: str
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    auth_time: int
    expires_at: float


@dataclass(frozen=True)
class Session:
    sub: str
    auth_time: int
    expires_at: float


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier``: base64url(sha256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def with_query(url: str, params: Mapping[str, str | None]) -> str:
    parts = urlsplit(url)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body, each field once; OAuthError if not."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "send the form as application/x-www-form-urlencoded")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise OAuthError("invalid_request", "the form is too large")
    try:
        pairs = parse_qsl(
            body.decode(), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict"
        )
    except ValueError:
        raise OAuthError("invalid_request", "the form is not valid UTF-8 form data") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise OAuthError("invalid_request", f"the parameter {name!r} is repeated")
        form[name] = value
    return form


def _page(message: str, status: int) -> HTMLResponse:
    return HTMLResponse(error_page(message), status_code=status, headers=NO_STORE)


class Issuer:
    """The issuer's state (key, users, codes, sessions) and its routes."""

    def __init__(
        self,
        settings: IssuerSettings,
        *,
        clock: Callable[[], float] = time.time,
        users: UserStore | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.key = Signer()
        self.users = users if users is not None else UserStore(settings.users_file)
        self.codes: dict[str, Grant] = {}
        self.sessions: dict[str, Session] = {}

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/jwks.json", self.jwks),
                Route("/.well-known/openid-configuration", self.openid_configuration),
                Route("/oauth2/authorize", self.authorize, methods=["GET", "POST"]),
                Route("/oauth2/token", self.token, methods=["POST", "OPTIONS"]),
                Route("/logout", self.logout),
                Route("/devstack/config.json", self.web_config),
            ]
        )

    # ------------------------------------------------------------------ discovery

    async def jwks(self, _request: Request) -> Response:
        return JSONResponse({"keys": [self.key.jwk]})

    async def openid_configuration(self, _request: Request) -> Response:
        issuer = self.settings.issuer
        return JSONResponse(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/oauth2/authorize",
                "token_endpoint": f"{issuer}/oauth2/token",
                "jwks_uri": f"{issuer}/.well-known/jwks.json",
                "end_session_endpoint": f"{issuer}/logout",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": sorted(SUPPORTED_SCOPES),
                "token_endpoint_auth_methods_supported": ["none"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def web_config(self, _request: Request) -> Response:
        return JSONResponse(self.settings.web_config(), headers=NO_STORE)

    # ------------------------------------------------------------------ authorize

    async def authorize(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                params = await read_form(request)
            except OAuthError as error:
                return _page(str(error), 400)
        else:
            params = dict(request.query_params)
        checked = self._check_authorize(params)
        if isinstance(checked, Response):
            return checked
        if request.method == "POST":
            return self._submit(checked, params)
        session = self._live_session(request)
        if session is not None:
            return self._redirect_with_code(checked, session)
        return HTMLResponse(login_page(checked.fields()), headers=NO_STORE)

    def _check_authorize(self, params: Mapping[str, str]) -> AuthorizeRequest | Response:
        """The request, or the answer to a bad one: a page while the client and redirect
        URI are unproven (never redirect to an unregistered URI), else an OAuth error
        redirect (RFC 6749 section 4.1.2.1)."""
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        if client_id != self.settings.client_id:
            return _page(f"Unknown client_id {client_id!r}.", 400)
        if redirect_uri != self.settings.redirect_uri:
            return _page(f"redirect_uri {redirect_uri!r} is not registered for this client.", 400)
        state = params.get("state")
        problem = _authorize_problem(params)
        if problem is not None:
            error, description = problem
            query = {"error": error, "error_description": description, "state": state}
            return RedirectResponse(with_query(redirect_uri, query), status_code=302)
        scopes = params.get("scope", "").split() or list(SCOPES)
        return AuthorizeRequest(
            client_id=client_id,
            redirect_uri=redirect_uri,
            state=state,
            challenge=params["code_challenge"],
            scope=" ".join(dict.fromkeys(scopes)),
        )

    def _submit(self, request: AuthorizeRequest, form: Mapping[str, str]) -> Response:
        action = form.get("action", "")
        email = form.get("email", "")
        password = form.get("password", "")
        try:
            if action == "signup":
                user = self.users.sign_up(email, password)
            elif action == "signin":
                user = self.users.sign_in(email, password)
            else:
                raise UserError("Choose Sign in or Create account.")
        except UserError as error:
            page = login_page(request.fields(), error=str(error), action=action, email=email)
            return HTMLResponse(page, status_code=error.status, headers=NO_STORE)
        now = self.clock()
        session = Session(sub=user.sub, auth_time=int(now), expires_at=now + SESSION_SECONDS)
        session_id = secrets.token_urlsafe(32)
        self.sessions[session_id] = session
        response = self._redirect_with_code(request, session)
        response.set_cookie(
            SESSION_COOKIE,
            session_id,
            max_age=SESSION_SECONDS,
            path="/",
            httponly=True,
            samesite="lax",
        )
        return response

    def _live_session(self, request: Request) -> Session | None:
        session_id = request.cookies.get(SESSION_COOKIE, "")
        session = self.sessions.get(session_id)
        if session is None or session.expires_at <= self.clock():
            self.sessions.pop(session_id, None)
            return None
        return session if self.users.by_sub(session.sub) else None

    def _redirect_with_code(self, request: AuthorizeRequest, session: Session) -> Response:
        now = self.clock()
        self.codes = {code: g for code, g in self.codes.items() if g.expires_at > now}
        code = secrets.token_urlsafe(32)
        self.codes[code] = Grant(
            sub=session.sub,
            client_id=request.client_id,
            redirect_uri=request.redirect_uri,
            challenge=request.challenge,
            scope=request.scope,
            auth_time=session.auth_time,
            expires_at=now + CODE_SECONDS,
        )
        location = with_query(request.redirect_uri, {"code": code, "state": request.state})
        return RedirectResponse(location, status_code=302, headers=NO_STORE)

    # ------------------------------------------------------------------ token

    def _cors(self, request: Request) -> dict[str, str]:
        """The web app calls the token endpoint from its own origin; no other origin may."""
        if request.headers.get("origin") == self.settings.app_origin:
            return {"Access-Control-Allow-Origin": self.settings.app_origin, "Vary": "Origin"}
        return {"Vary": "Origin"}

    async def token(self, request: Request) -> Response:
        cors = self._cors(request)
        if request.method == "OPTIONS":
            preflight = {
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "600",
            }
            return Response(status_code=204, headers=cors | preflight)
        try:
            grant, user = self._redeem(await read_form(request))
        except OAuthError as error:
            body = {"error": error.code, "error_description": str(error)}
            return JSONResponse(body, status_code=error.status, headers=cors | NO_STORE)
        return JSONResponse(self._tokens(grant, user), headers=cors | NO_STORE)

    def _redeem(self, form: Mapping[str, str]) -> tuple[Grant, User]:
        if form.get("grant_type") != "authorization_code":
            raise OAuthError("unsupported_grant_type", "grant_type must be authorization_code")
        if form.get("client_id") != self.settings.client_id:
            raise OAuthError("invalid_client", "unknown client_id")
        # One use only: the code is gone whatever happens next.
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or grant.expires_at <= self.clock():
            raise OAuthError("invalid_grant", "the code is unknown, expired or already used")
        if grant.client_id != form["client_id"] or grant.redirect_uri != form.get("redirect_uri"):
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorize request")
        verifier = form.get("code_verifier", "")
        if not VERIFIER.fullmatch(verifier) or not hmac.compare_digest(
            s256(verifier), grant.challenge
        ):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        user = self.users.by_sub(grant.sub)
        if user is None:
            raise OAuthError("invalid_grant", "the user no longer exists")
        return grant, user

    def _tokens(self, grant: Grant, user: User) -> dict[str, Any]:
        now = int(self.clock())
        times = {"auth_time": grant.auth_time, "iat": now, "exp": now + ACCESS_TOKEN_SECONDS}
        # A pool that signs in with the email generates each user's username, equal to sub:
        # access_claims' default.
        access = access_claims(
            issuer_url=self.settings.issuer,
            app_client=grant.client_id,
            subject=user.sub,
            scope=grant.scope,
            **times,
        )
        body: dict[str, Any] = {
            "access_token": self.key.sign(access),
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
        }
        if "openid" in grant.scope.split():
            body["id_token"] = self.key.sign(
                {
                    "iss": self.settings.issuer,
                    "sub": user.sub,
                    **times,
                    "aud": grant.client_id,
                    "token_use": "id",
                    "email": user.email,
                    "cognito:username": user.sub,
                    "jti": str(uuid.uuid4()),
                }
            )
        return body

    # ------------------------------------------------------------------ logout

    async def logout(self, request: Request) -> Response:
        client_id = request.query_params.get("client_id", "")
        logout_uri = request.query_params.get("logout_uri", "")
        if client_id != self.settings.client_id:
            return _page(f"Unknown client_id {client_id!r}.", 400)
        if logout_uri != self.settings.redirect_uri:
            return _page(f"logout_uri {logout_uri!r} is not registered for this client.", 400)
        self.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
        response = RedirectResponse(logout_uri, status_code=302, headers=NO_STORE)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
        return response


def _authorize_problem(params: Mapping[str, str]) -> tuple[str, str] | None:
    """The OAuth error of authorize parameters, once the client and URI are known good."""
    if params.get("response_type") != "code":
        return "unsupported_response_type", "response_type must be code"
    if params.get("code_challenge_method") != "S256" or not CHALLENGE.fullmatch(
        params.get("code_challenge", "")
    ):
        return "invalid_request", "PKCE is required: a code_challenge with method S256"
    unknown = sorted(set(params.get("scope", "").split()) - SUPPORTED_SCOPES)
    if unknown:
        return "invalid_scope", f"unknown scope {unknown[0]!r}"
    if len(params.get("state", "")) > MAX_STATE:
        return "invalid_request", f"state is longer than {MAX_STATE} characters"
    return None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m todo_devstack.issuer", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--app-origin", required=True, help="e.g. http://127.0.0.1:8080")
    parser.add_argument("--data-dir", type=Path, required=True, help="users: <dir>/issuer/")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn  # noqa: PLC0415 - only the child process serves

    args = parse_args(argv)
    settings = IssuerSettings(
        issuer=f"http://127.0.0.1:{args.port}",
        app_origin=args.app_origin.rstrip("/"),
        users_file=args.data_dir / "issuer" / "users.json",
    )
    try:
        issuer = Issuer(settings)
        issuer.users.ensure(DEMO_EMAIL, DEMO_PASSWORD)
    except StoreError as error:
        print(f"issuer: {error}", file=sys.stderr)
        return 2
    config = uvicorn.Config(issuer.app(), host="127.0.0.1", port=args.port, log_level="warning")
    server = uvicorn.Server(config)
    for signum in (signal.SIGTERM, signal.SIGINT):
        # uvicorn re-raises the signal it stopped for once it is done: ending with 0, not
        # dying by it, is how the dev stack tells a clean stop.
        signal.signal(signum, lambda _signum, _frame: None)
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
