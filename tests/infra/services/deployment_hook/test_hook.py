"""The blue/green hook's handler, as ECS invokes it, against a real API process: SUCCEEDED on a
good API, FAILED (ECS then rolls back) on a broken one or none.

The contract checks call the API as a signed-in user. The success case signs its throwaway
user in through Cognito's admin API (moto) exactly as the function does in AWS, against an API
that validates moto's tokens (tests/support/moto_cognito.py), and leaves no user behind; the
others give the handler a token from the local issuer (tests/support/issuer.py) instead."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from infra.services.deployment_hook.runtime.deployed_checks import api, hook, lambda_function
from tests.support.api_process import ApiProcess, api_env
from tests.support.issuer import USER, Issuer, running_issuer
from tests.support.moto_cognito import (
    CREDENTIALS,
    Pool,
    api_trusting,
    create_pool,
    moto_server,
)

# What ECS sends at POST_TEST_TRAFFIC_SHIFT (the handler reads only the identifiers).
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/lambda-lifecycle-hooks.html
EVENT = {
    "serviceArn": "arn:aws:ecs:eu-west-1:222222222222:service/todo-dev/api",
    "targetServiceRevisionArn": (
        "arn:aws:ecs:eu-west-1:222222222222:service-revision/todo-dev/api/2"
    ),
    "testTrafficWeights": {},
    "productionTrafficWeights": {},
}


def _invoke(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
    checks: str = "smoke,contract,integration",
    sign_in: hook.SignIn | None = None,
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    monkeypatch.setenv("TEST_URL", url)
    monkeypatch.setenv("CHECKS", checks)
    if sign_in is None:
        # As Lambda calls it: the entry point signs in with Cognito, named by the environment.
        result = lambda_function.handler(EVENT, None)
    else:
        result = hook.handler(EVENT, None, sign_in=sign_in)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return result, lines


def _token_of(issuer: Issuer) -> hook.SignIn:
    """A sign-in that needs no Cognito: a token of the local issuer's user."""

    def sign_in() -> AbstractContextManager[str]:
        return nullcontext(issuer.token(USER))

    return sign_in


def _checks(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == "deployment_check"]


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pool]:
    """The environment's pool in moto, named to the handler as the construct names it."""
    with moto_server() as endpoint:
        pool = create_pool(endpoint)
        for name, value in CREDENTIALS.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("CHECKS_USER_POOL_ID", pool.user_pool_id)
        monkeypatch.setenv("CHECKS_CLIENT_ID", pool.client_id)
        yield pool


def test_the_hook_signs_a_user_in_succeeds_and_deletes_the_user(
    pool: Pool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with api_trusting(pool, tmp_path) as url:
        result, lines = _invoke(monkeypatch, capsys, url, checks="smoke,contract")
    assert result == {"hookStatus": "SUCCEEDED"}, lines
    checks = _checks(lines)
    assert [c["check"] for c in checks] == [c.__name__ for c in api.SMOKE + api.CONTRACT]
    assert all(c["passed"] for c in checks), checks
    (summary,) = [line for line in lines if line["event"] == "deployment_hook"]
    assert summary["targetServiceRevisionArn"] == EVENT["targetServiceRevisionArn"]
    assert pool.usernames() == []


def test_without_a_signed_in_user_the_contract_checks_fail_and_the_deployment_rolls_back(
    pool: Pool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What the hook did before it signed in: the API answers 401 to every todo request."""
    anonymous: hook.SignIn = lambda: nullcontext("not-a-token")  # noqa: E731
    with api_trusting(pool, tmp_path) as url:
        result, lines = _invoke(monkeypatch, capsys, url, "smoke,contract", anonymous)
    assert result == {"hookStatus": "FAILED"}
    failed = {c["check"]: c["detail"] for c in _checks(lines) if not c["passed"]}
    assert failed["todo_life_cycle"] == "POST /api/todos status: expected 201, got 401"


def test_a_hook_that_cannot_sign_in_fails_each_contract_check_saying_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CHECKS_USER_POOL_ID", raising=False)
    monkeypatch.delenv("CHECKS_CLIENT_ID", raising=False)
    result, lines = _invoke(monkeypatch, capsys, "http://127.0.0.1:9", "smoke,contract")
    assert result == {"hookStatus": "FAILED"}
    contract = [c for c in _checks(lines) if c["check"] in {c.__name__ for c in api.CONTRACT}]
    assert len(contract) == len(api.CONTRACT)
    assert all("CHECKS_USER_POOL_ID" in c["detail"] for c in contract), contract


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with running_issuer() as issuer:
        yield issuer


@pytest.fixture
def broken_api(tmp_path: Path, issuer: Issuer) -> Iterator[str]:
    """A real API whose todo table is gone: alive and ready, but every todo request fails."""
    api_process = ApiProcess(api_env(tmp_path, **issuer.settings))
    url = str(api_process.wait_for("Todo API listening on")["url"])
    api_process.wait_for("Application startup complete")
    with sqlite3.connect(tmp_path / "data" / "todo.sqlite3") as database:
        database.execute("DROP TABLE todos")
    yield url
    api_process.proc.terminate()
    api_process.proc.wait(timeout=30)


def test_the_hook_fails_against_a_broken_api_naming_each_failed_check(
    broken_api: str,
    issuer: Issuer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    result, lines = _invoke(monkeypatch, capsys, broken_api, sign_in=_token_of(issuer))
    assert result == {"hookStatus": "FAILED"}
    failed = {line["check"]: line["detail"] for line in lines if line.get("passed") is False}
    assert set(failed) == {"todo_life_cycle", "unknown_todo_is_404"}
    assert failed["todo_life_cycle"].startswith("POST /api/todos status: expected 201, got 5")
    (summary,) = [line for line in lines if line["event"] == "deployment_hook"]
    assert sorted(summary["failed"]) == sorted(failed)


def test_where_the_environment_runs_smoke_only_the_hook_writes_nothing(
    broken_api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The broken API fails every write; smoke alone (prod's checks) never makes one, and
    # signs nobody in (prod's hook has no pool, no client, no Cognito permission).
    def no_sign_in() -> AbstractContextManager[str]:
        raise AssertionError("smoke checks sign nobody in")

    result, lines = _invoke(monkeypatch, capsys, broken_api, checks="smoke", sign_in=no_sign_in)
    assert result == {"hookStatus": "SUCCEEDED"}
    checks = [line["check"] for line in lines if line["event"] == "deployment_check"]
    assert checks == [check.__name__ for check in api.SMOKE]


def test_the_hook_fails_when_green_does_not_answer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result, lines = _invoke(
        monkeypatch, capsys, "http://127.0.0.1:9", sign_in=lambda: nullcontext("a-token")
    )
    assert result == {"hookStatus": "FAILED"}
    details = [line["detail"] for line in lines if line.get("passed") is False]
    assert len(details) == len(api.SMOKE + api.CONTRACT)
    assert all("URLError" in detail for detail in details)


class _HeaderEcho(BaseHTTPRequestHandler):
    seen: ClassVar[list[str | None]] = []
    authorization: ClassVar[dict[str, str | None]] = {}

    def do_GET(self) -> None:
        _HeaderEcho.seen.append(self.headers.get(hook.TEST_HEADER))
        _HeaderEcho.authorization[self.path] = self.headers.get("Authorization")
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet."""


def test_every_request_carries_the_header_the_test_route_requires(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HeaderEcho)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _invoke(
            monkeypatch,
            capsys,
            f"http://127.0.0.1:{server.server_port}",
            sign_in=lambda: nullcontext("the-token"),
        )
    finally:
        server.shutdown()
    assert _HeaderEcho.seen
    assert set(_HeaderEcho.seen) == {hook.TEST_HEADER_VALUE}
    # The smoke checks stay anonymous; the contract checks carry the user's token.
    assert _HeaderEcho.authorization["/api/health"] is None
    assert _HeaderEcho.authorization["/api/openapi.json"] == "Bearer the-token"
