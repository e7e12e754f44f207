"""The real start command, ``python -m todo_api``, as a subprocess: start-up,
settings errors, and graceful shutdown on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from config.paths import ROOT
from tests.support.api_process import ApiProcess, api_env
from tests.support.issuer import USER, Issuer


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
    started: tuple[ApiProcess, str, int], issuer: Issuer
) -> None:
    api, host, port = started
    body = b'{"text": "finished during shutdown"}'
    token = issuer.token(USER).encode()
    head = (
        b"POST /api/todos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n" % (token, len(body))
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
