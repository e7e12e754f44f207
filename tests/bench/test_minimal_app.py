"""bench.minimal_app, the ceiling the API's list and create are measured against: it must do the
database work the API does (a create writes the todo and its outbox event; a page is one owner's
newest todos), or the ratios compare unlike work."""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Iterator
from types import ModuleType

import psycopg
import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from tests.support.databases import POSTGRES_URL, postgres_required
from todo_common.database import create_db_engine
from todo_common.events import TODO_CREATED, parse_event
from todo_common.migrate import upgrade
from todo_common.settings import CommonSettings

OWNER = "bench-test-user"
pytestmark = pytest.mark.postgres


@pytest.fixture
def schema() -> Iterator[str]:
    """A migrated schema of its own on the test PostgreSQL, dropped afterwards."""
    name = f"todo_minimal_{uuid.uuid4().hex[:8]}"
    try:
        libpq_url = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
        admin = psycopg.connect(libpq_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        if postgres_required():
            pytest.fail(f"REQUIRE_POSTGRES=1 but PostgreSQL is unreachable: {error}")
        pytest.skip(f"PostgreSQL unreachable: {error}")
    with admin:
        admin.execute(f'CREATE SCHEMA "{name}"')
        engine = create_db_engine(CommonSettings(database_url=POSTGRES_URL, database_schema=name))
        upgrade(engine)
        engine.dispose()
        yield name
        admin.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture
def minimal(schema: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """bench.minimal_app, imported with its settings in the environment (it reads them once)."""
    monkeypatch.setenv("DATABASE_URL", POSTGRES_URL)
    monkeypatch.setenv("DATABASE_SCHEMA", schema)
    monkeypatch.setenv("BENCH_OWNER", OWNER)
    sys.modules.pop("bench.minimal_app", None)
    yield importlib.import_module("bench.minimal_app")
    sys.modules.pop("bench.minimal_app", None)


def test_a_create_writes_the_todo_and_its_event_as_the_api_does(
    minimal: ModuleType, schema: str
) -> None:
    with TestClient(minimal.app) as client:
        created = [client.post("/api/todos", content=b'{"text": "milk"}') for _ in range(3)]
        page = client.get("/api/todos")

    assert [response.status_code for response in created] == [201] * 3
    ids = [response.json()["id"] for response in created]
    assert page.status_code == 200
    assert [todo["id"] for todo in page.json()] == ids[::-1]  # newest first

    engine = create_db_engine(CommonSettings(database_url=POSTGRES_URL, database_schema=schema))
    try:
        with engine.connect() as conn:
            todos = conn.execute(text("SELECT id, text, owner_id FROM todos")).all()
            events = conn.execute(text("SELECT type, todo_id, body, owner_id FROM outbox")).all()
    finally:
        engine.dispose()
    assert sorted(str(row.id) for row in todos) == sorted(ids)
    assert {(row.text, row.owner_id) for row in todos} == {("milk", OWNER)}
    assert sorted(str(row.todo_id) for row in events) == sorted(ids)
    for row in events:
        assert (row.type, row.owner_id) == (TODO_CREATED, OWNER)
        assert str(parse_event(row.body).todo_id) == str(row.todo_id)


def test_a_page_is_at_most_fifty_of_the_owners_newest(minimal: ModuleType) -> None:
    with TestClient(minimal.app) as client:
        for number in range(52):
            client.post("/api/todos", content=b'{"text": "t%d"}' % number)
        page = client.get("/api/todos").json()

    assert len(page) == 50
    assert [todo["text"] for todo in page[:2]] == ["t51", "t50"]
    # The loop path: on PostgreSQL its statements run as the API's do (todo_api.database).
    assert minimal._database.on_event_loop
