"""The real start command, ``python -m todo_api``, as a subprocess: start-up,
settings errors, and graceful shutdown on SIGTERM."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from config.paths import ROOT

PYTHONPATH = os.pathsep.join(str(ROOT / part) for part in ("services/common", "services/api"))


def api_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "API_", "DATA_DIR", "LOG_LEVEL"))
    }
    env.update(PYTHONPATH=PYTHONPATH, DATA_DIR=str(tmp_path / "data"), API_PORT="0")
    env.update(extra)
    return env


class ApiProcess:
    """``python -m todo_api`` with its JSON log lines collected as they come."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "todo_api"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.lines.put(json.loads(line))
            except json.JSONDecodeError:
                self.lines.put({"message": line.rstrip(), "raw": True})

    def wait_for(self, text: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for entry in self.seen:
            if text in entry.get("message", ""):
                return entry
        while time.monotonic() < deadline:
            try:
                entry = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(entry)
            if text in entry.get("message", ""):
                return entry
        raise AssertionError(f"no log line with {text!r}; got {self.seen}")

    def drain(self) -> list[dict[str, Any]]:
        while True:
            try:
                self.seen.append(self.lines.get_nowait())
            except queue.Empty:
                return self.seen


@pytest.fixture
def started(tmp_path: Path) -> Iterator[tuple[ApiProcess, str, int]]:
    api = ApiProcess(api_env(tmp_path, API_SHUTDOWN_TIMEOUT_SECONDS="10"))
    url = api.wait_for("Todo API listening on")["url"]
    api.wait_for("Application startup complete")
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1"
    assert parts.port
    yield api, parts.hostname, parts.port
    if api.proc.poll() is None:
        api.proc.kill()
        api.proc.wait()


def http(host: str, port: int, request: bytes) -> bytes:
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(request)
        return read_all(conn)


def read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_serves_on_the_logged_url_and_logs_one_line_per_request(
    started: tuple[ApiProcess, str, int],
) -> None:
    api, host, port = started
    reply = http(
        host,
        port,
        b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Request-ID: probe-1\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 200")
    access = api.wait_for("GET /api/health 200")
    assert access["method"] == "GET"
    assert access["path"] == "/api/health"
    assert access["status"] == 200
    assert access["request_id"] == "probe-1"
    assert isinstance(access["duration_ms"], float)
    assert access["level"] == "INFO"
    assert access["time"].endswith("Z")


def test_request_in_flight_at_sigterm_completes_then_exit_0(
    started: tuple[ApiProcess, str, int],
) -> None:
    api, host, port = started
    body = b'{"text": "finished during shutdown"}'
    head = (
        b"POST /api/todos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    with socket.create_connection((host, port), timeout=10) as conn:
        # The request has started (headers and half the body are in) when
        # SIGTERM arrives; the rest of the body comes after.
        conn.sendall(head + body[:10])
        time.sleep(0.3)
        api.proc.send_signal(signal.SIGTERM)
        api.wait_for("Shutting down")
        # No new connections once shutdown began...
        refused = False
        for _ in range(50):
            try:
                socket.create_connection((host, port), timeout=0.5).close()
            except OSError:
                refused = True
                break
            time.sleep(0.05)
        assert refused, "still accepting connections after SIGTERM"
        # ...but the one in flight is answered in full.
        conn.sendall(body[10:])
        reply = read_all(conn)

    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 201 Created"
    assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["text"] == "finished during shutdown"
    assert api.proc.wait(timeout=15) == 0
    messages = [entry.get("message", "") for entry in api.drain()]
    assert "POST /api/todos 201" in messages
    assert messages.index("POST /api/todos 201") < messages.index("database pool closed")
    assert "stopped by SIGTERM" in messages


def test_shutdown_gives_up_on_a_stuck_request_after_the_timeout(tmp_path: Path) -> None:
    api = ApiProcess(api_env(tmp_path, API_SHUTDOWN_TIMEOUT_SECONDS="1"))
    try:
        parts = urlsplit(api.wait_for("Todo API listening on")["url"])
        api.wait_for("Application startup complete")
        assert parts.hostname
        assert parts.port
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
            conn.sendall(
                b"POST /api/todos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n{"
            )
            time.sleep(0.3)
            sent = time.monotonic()
            api.proc.send_signal(signal.SIGTERM)
            assert api.proc.wait(timeout=10) == 0
            assert time.monotonic() - sent < 5
    finally:
        if api.proc.poll() is None:
            api.proc.kill()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("API_PORT", "eighty"),
        ("API_PORT", "70000"),
        ("DATABASE_POOL_SIZE", "0"),
        ("LOG_LEVEL", "chatty"),
        ("DATABASE_URL", "mysql://root@localhost/todo"),
        ("DATABASE_SECRET_ARN", "arn:aws:s3:::bucket"),
        ("API_SHUTDOWN_TIMEOUT_SECONDS", "-1"),
    ],
)
def test_an_invalid_setting_stops_the_start_with_one_line(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "todo_api"],
        cwd=ROOT,
        env=api_env(tmp_path, **{variable: value}),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"invalid setting {variable}: ")
    assert not (tmp_path / "data").exists()  # stopped before touching the database
