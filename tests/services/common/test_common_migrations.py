"""Migrations own the schema: they match the models, apply once, undo cleanly."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from tests.support.databases import POSTGRES_URL
from todo_common.database import create_db_engine
from todo_common.migrate import alembic_config, current_revision, head_revision, upgrade
from todo_common.models import Base
from todo_common.settings import CommonSettings


def _postgres_schema(request: pytest.FixtureRequest) -> CommonSettings:
    """Settings for a fresh, empty schema of the test database (dropped after)."""
    admin: Engine = request.getfixturevalue("postgres_admin")
    schema = f"todo_migrate_{uuid.uuid4().hex}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))

    request.addfinalizer(drop)
    return CommonSettings(database_url=POSTGRES_URL, database_schema=schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        settings = CommonSettings(data_dir=tmp_path)
    else:
        settings = _postgres_schema(request)
    engine = create_db_engine(settings)
    yield engine
    engine.dispose()


def test_upgrade_creates_the_schema_the_models_describe(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) is None
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision()
    assert {"todos", "alembic_version"} <= set(inspect(empty_engine).get_table_names())
    with empty_engine.connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert drift == []


def test_upgrade_twice_is_a_no_op_and_downgrade_undoes(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision()
    upgrade(empty_engine, "base") if False else None  # upgrade() only goes forward

    with empty_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert "todos" not in inspect(empty_engine).get_table_names()
    upgrade(empty_engine)
    assert "todos" in inspect(empty_engine).get_table_names()


@pytest.mark.postgres
def test_concurrent_starts_migrate_once(request: pytest.FixtureRequest) -> None:
    settings = _postgres_schema(request)
    errors: list[BaseException] = []

    def start() -> None:
        engine = create_db_engine(settings)
        try:
            upgrade(engine)
        except BaseException as error:
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = create_db_engine(settings)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_ownership_keeps_every_existing_row_and_gives_it_no_owner(empty_engine: Engine) -> None:
    """0003 only expands: rows written before it stay, with a NULL owner (nobody's: no user
    sees them until an operator assigns them, docs/auth.md), and a release that knows nothing
    of owners still inserts rows on the new schema."""
    upgrade(empty_engine, "0002")
    insert = text(
        "INSERT INTO todos (id, text, completed, created_at, updated_at, version) "
        "VALUES (:id, :text, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
    )
    with empty_engine.begin() as conn:
        conn.execute(insert, {"id": uuid.uuid4().hex, "text": "before"})
    upgrade(empty_engine)
    with empty_engine.begin() as conn:  # the previous release's insert, on the new schema
        conn.execute(insert, {"id": uuid.uuid4().hex, "text": "during the rollout"})
        rows = conn.execute(text("SELECT text, owner_id FROM todos ORDER BY text")).all()
    assert [tuple(row) for row in rows] == [("before", None), ("during the rollout", None)]
    columns = {
        table: {
            column["name"]: column["nullable"]
            for column in inspect(empty_engine).get_columns(table)
        }
        for table in ("todos", "outbox", "activity")
    }
    assert {table: found["owner_id"] for table, found in columns.items()} == dict.fromkeys(
        columns, True
    )
