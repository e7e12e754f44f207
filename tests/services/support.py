"""Helpers for the service tests (the fixtures live in conftest.py)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine, text

from todo_api.settings import ApiSettings

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_required() -> bool:
    return os.environ.get("REQUIRE_POSTGRES", "") in {"1", "true", "yes"}


@dataclass
class Database:
    """A migrated, empty database and the settings that reach it."""

    kind: str
    settings: ApiSettings
    engine: Engine

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM todos")).scalar_one())


def postgres_settings(schema: str, **overrides: object) -> ApiSettings:
    return ApiSettings.model_validate(
        {"database_url": POSTGRES_URL, "database_schema": schema, **overrides}
    )


PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "requestId"}


def assert_problem(
    response: Any, status: int, *, field: str | None = None, instance: str | None = None
) -> dict[str, Any]:
    """The shape the web UI relies on, with the request id matching the header."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert PROBLEM_KEYS <= set(body) <= PROBLEM_KEYS | {"errors"}
    assert body["status"] == status
    assert body["requestId"] == response.headers["x-request-id"]
    assert body["requestId"]
    assert isinstance(body["title"], str)
    assert body["title"]
    if instance is not None:
        assert body["instance"] == instance
    if field is not None:
        assert [error["field"] for error in body["errors"]] == [field]
        assert body["detail"].startswith(f"{field}: ")
        assert body["detail"] == f"{field}: {body['errors'][0]['message']}"
    return body


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """Run ``app`` on a real uvicorn server on loopback; yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
