"""The blue/green hook's handler, as ECS invokes it, against the local stack (`make dev`):
SUCCEEDED on a good API, FAILED (ECS then rolls back) on a broken one or none."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from infra.services.deployment_hook.runtime.deployed_checks import api, hook
from tests.support.api_process import ApiProcess, api_env
from tests.support.devstack import running_devstack

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
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    monkeypatch.setenv("TEST_URL", url)
    monkeypatch.setenv("CHECKS", checks)
    result = hook.handler(EVENT, None)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return result, lines


def test_the_hook_succeeds_against_the_local_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_devstack(tmp_path) as stack:
        result, lines = _invoke(monkeypatch, capsys, stack.url)
    assert result == {"hookStatus": "SUCCEEDED"}
    checks = [line for line in lines if line["event"] == "deployment_check"]
    assert [c["check"] for c in checks] == [c.__name__ for c in api.SMOKE + api.CONTRACT]
    assert all(c["passed"] for c in checks), checks
    (summary,) = [line for line in lines if line["event"] == "deployment_hook"]
    assert summary["targetServiceRevisionArn"] == EVENT["targetServiceRevisionArn"]


@pytest.fixture
def broken_api(tmp_path: Path) -> Iterator[str]:
    """A real API whose todo table is gone: alive and ready, but every todo request fails."""
    api_process = ApiProcess(api_env(tmp_path))
    url = str(api_process.wait_for("Todo API listening on")["url"])
    api_process.wait_for("Application startup complete")
    with sqlite3.connect(tmp_path / "data" / "todo.sqlite3") as database:
        database.execute("DROP TABLE todos")
    yield url
    api_process.proc.terminate()
    api_process.proc.wait(timeout=30)


def test_the_hook_fails_against_a_broken_api_naming_each_failed_check(
    broken_api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result, lines = _invoke(monkeypatch, capsys, broken_api)
    assert result == {"hookStatus": "FAILED"}
    failed = {line["check"]: line["detail"] for line in lines if line.get("passed") is False}
    assert set(failed) == {"todo_life_cycle", "unknown_todo_is_404"}
    assert failed["todo_life_cycle"].startswith("POST /api/todos status: expected 201, got 5")
    (summary,) = [line for line in lines if line["event"] == "deployment_hook"]
    assert sorted(summary["failed"]) == sorted(failed)


def test_where_the_environment_runs_smoke_only_the_hook_writes_nothing(
    broken_api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The broken API fails every write; smoke alone (prod's checks) never makes one.
    result, lines = _invoke(monkeypatch, capsys, broken_api, checks="smoke")
    assert result == {"hookStatus": "SUCCEEDED"}
    checks = [line["check"] for line in lines if line["event"] == "deployment_check"]
    assert checks == [check.__name__ for check in api.SMOKE]


def test_the_hook_fails_when_green_does_not_answer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result, lines = _invoke(monkeypatch, capsys, "http://127.0.0.1:9")
    assert result == {"hookStatus": "FAILED"}
    details = [line["detail"] for line in lines if line.get("passed") is False]
    assert len(details) == len(api.SMOKE + api.CONTRACT)
    assert all("URLError" in detail for detail in details)


class _HeaderEcho(BaseHTTPRequestHandler):
    seen: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        _HeaderEcho.seen.append(self.headers.get(hook.TEST_HEADER))
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
        _invoke(monkeypatch, capsys, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    assert _HeaderEcho.seen
    assert set(_HeaderEcho.seen) == {hook.TEST_HEADER_VALUE}
