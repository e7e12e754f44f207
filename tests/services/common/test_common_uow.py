"""The unit of work: Core statements and ORM changes in one transaction, one commit, and its
connection back in the pool however the block ends (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Connection, event, select
from sqlalchemy.pool import QueuePool

from tests.support.databases import Database
from todo_common import todos
from todo_common.models import OutboxEvent, Todo
from todo_common.uow import UnitOfWorkFactory

OWNER = "uow-owner"


def _state(db: Database) -> tuple[list[tuple[str, int]], list[str]]:
    """What another connection sees: (text, version) of every todo, the outbox's event types."""
    with db.engine.connect() as other:
        rows = other.execute(select(Todo.text, Todo.version)).all()
        events = select(OutboxEvent.type).order_by(OutboxEvent.occurred_at, OutboxEvent.type)
        types = other.scalars(events).all()
    return [(text, version) for text, version in rows], list(types)


def _checked_out(db: Database) -> int:
    """Connections out of the pool right now (both engines pool with a QueuePool)."""
    pool = db.engine.pool
    assert isinstance(pool, QueuePool)
    return pool.checkedout()


def _autocommit(connection: Connection) -> bool:
    """Whether the driver's connection (psycopg's) is in autocommit right now."""
    driver = connection.connection.driver_connection
    assert driver is not None
    return bool(driver.autocommit)


def test_an_orm_change_and_its_core_event_commit_together(db: Database) -> None:
    units = UnitOfWorkFactory(db.engine)
    with units(write=True) as uow:
        todo = todos.create_todo(uow, "Buy milk", owner=OWNER)
        uow.commit()
    # An update changes the loaded ORM object (the session) and inserts its event with a Core
    # statement (the connection): the one commit must carry both.
    with units(write=True) as uow:
        todos.update_todo(uow, todo.id, owner=OWNER, text="Buy oat milk")
        uow.commit()

    assert _state(db) == ([("Buy oat milk", 2)], ["todo.created", "todo.updated"])
    assert _checked_out(db) == 0


def test_what_is_not_committed_is_rolled_back_on_both_paths(db: Database) -> None:
    units = UnitOfWorkFactory(db.engine)
    with units(write=True) as uow:
        todo = todos.create_todo(uow, "Buy milk", owner=OWNER)
        uow.commit()

    with pytest.raises(LookupError), units(write=True) as uow:
        todos.update_todo(uow, todo.id, owner=OWNER, completed=True)
        todos.delete_todo(uow, todo.id, owner=OWNER)
        raise LookupError("the caller gives up before committing")

    assert _state(db) == ([("Buy milk", 1)], ["todo.created"])
    assert _checked_out(db) == 0


def test_the_commit_hook_runs_only_after_a_commit_that_added_events(db: Database) -> None:
    calls: list[str] = []
    units = UnitOfWorkFactory(db.engine, on_events=lambda: calls.append("events"))
    with units(write=True) as uow:
        assert todos.delete_todo(uow, uuid.uuid4(), owner=OWNER) is False
        uow.commit()
    assert calls == []
    with units(write=True) as uow:
        todos.create_todo(uow, "Buy milk", owner=OWNER)
        assert calls == []
        uow.commit()
    assert calls == ["events"]


def test_a_read_sees_what_was_committed_and_returns_its_connection(db: Database) -> None:
    units = UnitOfWorkFactory(db.engine)
    with units(write=True) as uow:
        created = todos.create_todo(uow, "Buy milk", owner=OWNER)
        uow.commit()
    with units() as uow:
        page = todos.list_todos(uow, 10, owner=OWNER)
        one = todos.get_todo(uow, created.id, owner=OWNER)
    assert [row.text for row in page] == ["Buy milk"]
    assert one is not None
    # Loaded objects stay readable once the unit has closed.
    assert (one.text, one.version) == ("Buy milk", 1)
    assert _checked_out(db) == 0


def test_a_unit_is_refused_outside_its_block(db: Database) -> None:
    uow = UnitOfWorkFactory(db.engine)()
    with pytest.raises(RuntimeError, match="outside its `with` block"):
        uow.todos.list_page(10, owner=OWNER)
    with uow:
        pass
    with pytest.raises(RuntimeError, match="outside its `with` block"):
        _ = uow.session


def test_core_statements_commit_even_when_the_session_was_opened_but_never_used(
    db: Database,
) -> None:
    units = UnitOfWorkFactory(db.engine)
    with units(write=True) as uow:
        todo = todos.create_todo(uow, "Buy milk", owner=OWNER)
        uow.commit()
    with units(write=True) as uow:
        uow.session.flush()  # a session that has run no SQL has joined no transaction
        assert todos.delete_todo(uow, todo.id, owner=OWNER) is True
        uow.commit()

    assert _state(db) == ([], ["todo.created", "todo.deleted"])


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_write_takes_sqlite_s_write_lock_at_once_and_a_read_after_it_does_not(
    db: Database,
) -> None:
    begins: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        units = UnitOfWorkFactory(db.engine)
        with units(write=True) as uow:
            todos.create_todo(uow, "Buy milk", owner=OWNER)
            uow.commit()
        with units() as uow:
            todos.list_todos(uow, 10, owner=OWNER)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert begins == ["BEGIN IMMEDIATE", "BEGIN"]


@pytest.mark.parametrize(
    "db", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_postgres_read_in_autocommit_hands_the_next_write_a_transaction(db: Database) -> None:
    units = UnitOfWorkFactory(db.engine)
    with units() as uow:
        assert _autocommit(uow.connection) is True
        todos.list_todos(uow, 10, owner=OWNER)
    with units(write=True) as uow:
        assert _autocommit(uow.connection) is False
        todos.create_todo(uow, "Buy milk", owner=OWNER)
        uow.commit()
    assert _state(db) == ([("Buy milk", 1)], ["todo.created"])
    assert _checked_out(db) == 0
