"""A new row's value carries every column of its table: a column the value lacked would be
inserted as its default without a word (SQLite and PostgreSQL); timestamps read back aware."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Table, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import DeclarativeBase, Session

from tests.support.databases import Database
from todo_common import todos
from todo_common.models import NewEvent, NewTodo, OutboxEvent, Todo, UTCDateTime
from todo_common.repository import _PSYCOPG
from todo_common.uow import UnitOfWorkFactory

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


@pytest.mark.parametrize(("value", "model"), [(NewTodo, Todo), (NewEvent, OutboxEvent)])
def test_a_new_row_names_exactly_its_table_s_columns(
    value: type[DataclassInstance], model: type[DeclarativeBase]
) -> None:
    table = model.__table__
    assert isinstance(table, Table)
    assert sorted(field.name for field in fields(value)) == sorted(table.columns.keys())


def test_a_created_todo_and_its_event_are_stored_as_their_values(db: Database) -> None:
    with UnitOfWorkFactory(db.engine)(write=True) as uow:
        created = todos.create_todo(uow, "Buy milk", owner="models-owner")
        uow.commit()

    with Session(db.engine) as session:
        todo = session.scalars(select(Todo)).one()
        event = session.scalars(select(OutboxEvent)).one()
    stored_todo = {name: getattr(todo, name) for name in asdict(created)}
    assert stored_todo == asdict(created)
    assert (event.type, event.todo_id, event.owner_id) == (
        "todo.created",
        created.id,
        "models-owner",
    )
    assert (event.occurred_at, event.sent_at, event.schema_version) == (created.created_at, None, 1)


def test_a_timestamp_is_read_as_psycopg_gives_it_and_sqlite_s_is_made_aware_utc() -> None:
    # psycopg reads timestamptz aware already: no work per value (a page has a hundred).
    assert UTCDateTime().result_processor(_PSYCOPG, None) is None
    from_sqlite = UTCDateTime().result_processor(sqlite.pysqlite.dialect(), None)
    assert from_sqlite is not None
    stored = datetime(2026, 12, 4, 9, 30, 15, 123000)  # SQLite keeps naive UTC
    assert from_sqlite(stored) == stored.replace(tzinfo=UTC)
