"""Fixtures shared by the service tests: a migrated, empty database per test.

``db`` is parametrized over the embedded SQLite file and the real PostgreSQL
(marker ``postgres``). PostgreSQL isolation across pytest-xdist workers: each
worker migrates its own schema (``todo_test_<run>_<worker>``) once, and every test
starts from an empty ``todos`` table. Where PostgreSQL is unreachable those
tests skip with the reason, unless ``REQUIRE_POSTGRES=1`` (CI), which turns
the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from tests.support.databases import (
    POSTGRES_URL,
    Database,
    make_database,
    postgres_required,
    postgres_settings,
)
from tests.support.issuer import USER, Issuer, running_issuer
from todo_api.app import create_app
from todo_api.settings import ApiSettings
from todo_common.database import SQLITE_FILE, create_db_engine
from todo_common.migrate import upgrade
from todo_common.settings import CommonSettings
from todo_common.tracing import build_provider, install
from todo_devstack.sqs import Queues, create_queues, free_port, start_moto
from todo_devstack.sqs import client as sqs_client
from todo_devstack.topology import Topology, create_topology, sns_client


@pytest.fixture(scope="session", autouse=True)
def issuer() -> Iterator[Issuer]:
    """The token issuer every API in these tests trusts: its settings are in the environment,
    where the API (and `python -m todo_api` started by a test) reads them."""
    with running_issuer() as running:
        saved = {name: os.environ.get(name) for name in running.settings}
        os.environ.update(running.settings)
        yield running
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An engine on the test database, or skip (fail under REQUIRE_POSTGRES=1)."""
    engine = create_engine(POSTGRES_URL, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as error:
        reason = f"PostgreSQL unreachable at {engine.url!r}: {error.orig}"
        if postgres_required():
            pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_schema(postgres_admin: Engine) -> Iterator[str]:
    """This worker's own schema, migrated to head; dropped at the end."""
    # Unique per run and worker: several checkouts on one machine share its
    # PostgreSQL, and may run their suites at the same time.
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", uuid.uuid4().hex)[:8]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    schema = f"todo_test_{run}_{worker}".lower()
    with postgres_admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_db_engine(postgres_settings(schema))
    upgrade(engine)
    engine.dispose()
    yield schema
    with postgres_admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test copies it (faster than migrating)."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    engine = create_db_engine(ApiSettings(data_dir=folder))
    upgrade(engine)
    engine.dispose()
    return folder / SQLITE_FILE


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    database = make_database(request.param, tmp_path, request)
    yield database
    database.engine.dispose()


@pytest.fixture
def app(db: Database) -> FastAPI:
    return create_app(db.settings, db.engine)


@pytest.fixture
def client(app: FastAPI, issuer: Issuer) -> Iterator[TestClient]:
    """The API as USER, signed in."""
    with TestClient(
        app, raise_server_exceptions=False, headers=issuer.headers(USER)
    ) as test_client:
        yield test_client


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    """The API with no token."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def sqs_endpoint() -> Iterator[str]:
    """moto's server (the local SNS and SQS endpoint make dev uses), one per xdist worker."""
    port = free_port()
    process = start_moto(port)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def queues(sqs_endpoint: str) -> Queues:
    """A fresh queue + DLQ (redrive after 2 receives) for this test."""
    sqs = sqs_client(sqs_endpoint)
    return create_queues(sqs, f"test-{uuid.uuid4().hex[:12]}", max_receive_count=2)


# Two consumers with different filters: one takes every event, one only deletions.
CONSUMERS = {
    "worker": ("todo.created", "todo.updated", "todo.completed", "todo.deleted"),
    "archiver": ("todo.deleted",),
}


@pytest.fixture
def topology(sqs_endpoint: str) -> Topology:
    """A fresh event topic with the CONSUMERS' queues subscribed (as make dev builds it)."""
    return create_topology(
        sns_client(sqs_endpoint),
        sqs_client(sqs_endpoint),
        f"test-{uuid.uuid4().hex[:12]}",
        CONSUMERS,
        max_receive_count=2,
    )


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    """Every span this test process ends, from the first use on: a process has one tracer
    provider, so later tests of the same xdist worker run traced too (which must change
    nothing they check)."""
    exporter = InMemorySpanExporter()
    provider = build_provider(CommonSettings(), exporter=exporter)
    assert provider is not None
    install(provider)
    return exporter


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    """The in-memory exporter, emptied for this test."""
    span_exporter.clear()
    return span_exporter
