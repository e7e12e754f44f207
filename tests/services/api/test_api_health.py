"""Liveness never touches the database; readiness does; a dead database is a 503."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support.issuer import USER, Issuer
from tests.support.problems import assert_problem
from todo_api.app import create_app
from todo_api.settings import ApiSettings


def test_health_and_ready_are_200_with_a_live_database(client: TestClient) -> None:
    for path in ("/api/health", "/api/ready"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


@pytest.fixture
def dead_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def dead_db_client(dead_port: int, issuer: Issuer) -> Iterator[TestClient]:
    settings = ApiSettings(
        database_url=f"postgresql://postgres@127.0.0.1:{dead_port}/test",
        database_connect_timeout_seconds=1,
        database_pool_timeout_seconds=1,
    )
    with TestClient(
        create_app(settings), raise_server_exceptions=False, headers=issuer.headers(USER)
    ) as client:
        yield client


def test_health_stays_200_when_the_database_is_down(dead_db_client: TestClient) -> None:
    response = dead_db_client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_is_503_problem_when_the_database_is_down(dead_db_client: TestClient) -> None:
    problem = assert_problem(dead_db_client.get("/api/ready"), 503, instance="/api/ready")
    assert problem["type"] == "urn:todo:problem:database-unavailable"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/todos", None),
        ("POST", "/api/todos", {"text": "x"}),
        ("GET", "/api/todos/00000000-0000-4000-8000-000000000000", None),
    ],
)
def test_requests_needing_a_dead_database_are_503_with_retry_after(
    dead_db_client: TestClient, method: str, path: str, body: object
) -> None:
    response = dead_db_client.request(method, path, json=body)
    problem = assert_problem(response, 503)
    assert problem["type"] == "urn:todo:problem:database-unavailable"
    assert response.headers["retry-after"] == "1"


def test_liveness_is_answered_ahead_of_the_router(app: FastAPI) -> None:
    """The probe costs what the server costs: its answer needs no route, dependency or
    serializer, and still carries the request id."""
    routes = list(app.router.routes)
    app.router.routes.clear()
    try:
        with TestClient(app) as bare:
            response = bare.get("/api/health", headers={"X-Request-ID": "probe-2"})
            assert response.status_code == 200
            assert response.json() == {"status": "ok"}
            assert response.headers["content-type"] == "application/json"
            assert response.headers["x-request-id"] == "probe-2"
            # Anything but GET is the router's: with no routes, a 404.
            assert bare.post("/api/health").status_code == 404
    finally:
        app.router.routes[:] = routes


def test_liveness_is_answered_ahead_of_the_framework_layers(app: FastAPI) -> None:
    """FastAPI's middleware (telemetry, errors, body limit, ours) never sees the probe: with
    every layer replaced by one that fails, the probe still answers, and nothing else does."""

    async def broken(_scope: object, _receive: object, _send: object) -> None:
        raise RuntimeError("the framework's layers ran")

    saved = app.middleware_stack
    app.middleware_stack = broken
    try:
        bare = TestClient(app, raise_server_exceptions=False)  # no lifespan: it would fail too
        response = bare.get("/api/health", headers={"X-Request-ID": "probe-3"})
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert response.headers["x-request-id"] == "probe-3"
        assert bare.get("/api/ready").status_code == 500
    finally:
        app.middleware_stack = saved
