"""Data access: the only module that writes SQL for the ``todos``, ``outbox``
and ``activity`` tables.

Every read and change of a todo or of activity names its owner: a row of another owner (or of
none) is not there for the caller, exactly as a missing one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import (
    BindParameter,
    Connection,
    Integer,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session

from todo_common.models import Activity, NewEvent, NewTodo, OutboxEvent, Todo


class TodoRow(NamedTuple):
    """One todo of a page, as shown.

    A page of todos is read as these columns, not as ORM objects: a page is shown, never
    changed, and tracking 50 objects in the session cost more than the query itself. Nor as
    SQLAlchemy's rows: a Row finds an attribute by name only after the usual lookup has failed,
    and reading a page's 250 values that way cost the list a seventh of its CPU."""

    id: uuid.UUID
    text: str
    completed: bool
    created_at: datetime
    updated_at: datetime


# The columns a page reads: the row's fields, by name.
_PAGE_COLUMNS = tuple(getattr(Todo, name) for name in TodoRow._fields)


def _table(model: type[DeclarativeBase]) -> Table:
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - every model here maps one table
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


# Built once; the values come with each execution (no statement built and keyed per insert).
_INSERT_TODO = insert(_table(Todo))
_INSERT_OUTBOX = insert(_table(OutboxEvent))


def _bound(model: type[DeclarativeBase], prefix: str) -> dict[str, BindParameter[Any]]:
    return {
        column.key: bindparam(prefix + column.key, type_=column.type)
        for column in _table(model).columns
    }


# PostgreSQL: a new todo and its event in one statement (a data-modifying WITH), atomic on its
# own and one round trip fewer for every create. Compiled once and sent as the driver's own SQL
# (psycopg adapts the UUIDs, aware datetimes and strings itself): what SQLAlchemy does for every
# execution of a Core statement (its cache key, the bind processing) cost a create a twentieth
# of its CPU (docs/performance.md). Waived with it: the checks that every timestamp is aware and
# the completed flag a bool; utc_now() and NewTodo make them so (tests/services/common).
_INSERT_TODO_AND_EVENT = (
    insert(_table(OutboxEvent))
    .values(_bound(OutboxEvent, "event_"))
    .add_cte(insert(_table(Todo)).values(_bound(Todo, "todo_")).cte("new_todo"))
)
_PSYCOPG = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call] # untyped in SQLAlchemy
_INSERT_TODO_AND_EVENT_SQL = str(_INSERT_TODO_AND_EVENT.compile(dialect=_PSYCOPG))


# The two list statements, built once: building and keying a select for every page cost a
# quarter of what reading the page did.
_FIRST_PAGE = (
    select(*_PAGE_COLUMNS)
    .where(Todo.owner_id == bindparam("owner"))
    .order_by(Todo.created_at.desc(), Todo.id.desc())
    .limit(bindparam("limit", type_=Integer))
)
_NEXT_PAGE = _FIRST_PAGE.where(
    or_(
        Todo.created_at < bindparam("created_at"),
        and_(Todo.created_at == bindparam("created_at"), Todo.id < bindparam("id")),
    )
)


# The fields of each kind of new row, read once; each is named as its column.
_FIELDS = {kind: tuple(field.name for field in fields(kind)) for kind in (NewTodo, NewEvent)}


def _values(row: NewTodo | NewEvent, prefix: str = "") -> dict[str, Any]:
    """A new row's column values, as bound parameters (each name after ``prefix``)."""
    return {prefix + name: getattr(row, name) for name in _FIELDS[type(row)]}


class Transaction(Protocol):
    """What a repository works in (a unit of work): Core statements go to ``connection``, ORM
    ones to ``session``, which is bound to that connection and opened only when used."""

    @property
    def connection(self) -> Connection: ...

    @property
    def session(self) -> Session: ...


@dataclass(frozen=True)
class Position:
    """A keyset position in the newest-first order: (created_at, id)."""

    created_at: datetime
    id: uuid.UUID


class TodoRepository:
    def __init__(self, transaction: Transaction) -> None:
        self._in = transaction

    def add(self, todo: NewTodo) -> NewTodo:
        """Insert ``todo`` as one INSERT."""
        self._in.connection.execute(_INSERT_TODO, _values(todo))
        return todo

    def get(self, todo_id: uuid.UUID, *, owner: str, for_update: bool = False) -> Todo | None:
        statement = select(Todo).where(Todo.id == todo_id, Todo.owner_id == owner)
        if for_update:
            # PostgreSQL: row lock until commit, so concurrent partial updates
            # of one todo serialize instead of overwriting each other.
            statement = statement.with_for_update()
        return self._in.session.scalars(statement).one_or_none()

    def list_page(self, limit: int, after: Position | None = None, *, owner: str) -> list[TodoRow]:
        """Up to ``limit`` of ``owner``'s todos, newest first, strictly after ``after``."""
        values: dict[str, Any] = {"owner": owner, "limit": limit}
        if after is not None:
            values |= {"created_at": after.created_at, "id": after.id}
        result = self._in.connection.execute(_FIRST_PAGE if after is None else _NEXT_PAGE, values)
        return [TodoRow._make(row) for row in result]

    def delete_returning_text(self, todo_id: uuid.UUID, *, owner: str) -> str | None:
        """Delete ``owner``'s todo; its text, or None if ``owner`` has no such todo."""
        result = self._in.connection.execute(
            delete(Todo).where(Todo.id == todo_id, Todo.owner_id == owner).returning(Todo.text),
        )
        row = result.first()
        return None if row is None else str(row[0])


class OutboxRepository:
    def __init__(self, transaction: Transaction) -> None:
        self._in = transaction
        self.added = 0

    def add(self, event: NewEvent, *, new_todo: NewTodo | None = None) -> NewEvent:
        """Insert ``event`` in the caller's transaction (the outbox guarantee); with
        ``new_todo``, insert that todo too, in the same statement where the database can."""
        connection = self._in.connection
        if new_todo is None:
            connection.execute(_INSERT_OUTBOX, _values(event))
        elif connection.dialect.name == "postgresql":
            values = _values(new_todo, "todo_") | _values(event, "event_")
            connection.exec_driver_sql(_INSERT_TODO_AND_EVENT_SQL, values)
        else:
            connection.execute(_INSERT_TODO, _values(new_todo))
            connection.execute(_INSERT_OUTBOX, _values(event))
        self.added += 1
        return event

    def claim_pending(self, limit: int) -> list[OutboxEvent]:
        """Up to ``limit`` unsent events, oldest first, locked until the
        transaction ends. PostgreSQL: rows another relay holds are skipped
        (FOR UPDATE SKIP LOCKED), so concurrent relays publish disjoint sets.
        SQLite has no row locks; its write transaction serializes relays."""
        statement = (
            select(OutboxEvent)
            .where(OutboxEvent.sent_at.is_(None))
            .order_by(OutboxEvent.occurred_at, OutboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self._in.session.scalars(statement))

    def mark_sent(self, ids: list[uuid.UUID], sent_at: datetime) -> None:
        """A Core UPDATE: the claimed objects in memory keep ``sent_at`` unset."""
        if ids:
            self._in.connection.execute(
                update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(sent_at=sent_at)
            )

    def pending_count(self) -> int:
        statement = select(func.count()).where(OutboxEvent.sent_at.is_(None))
        return int(self._in.connection.execute(statement).scalar_one())

    def oldest_pending_at(self) -> datetime | None:
        """When the oldest unsent event happened: how far publication lags."""
        statement = select(func.min(OutboxEvent.occurred_at)).where(OutboxEvent.sent_at.is_(None))
        return self._in.connection.execute(statement).scalar_one()

    def delete_sent_before(self, cutoff: datetime, limit: int) -> int:
        """Forget up to ``limit`` events published before ``cutoff``; pending ones stay.

        Bounded so one pass never holds a long delete on a large backlog."""
        doomed = (
            select(OutboxEvent.id)
            .where(OutboxEvent.sent_at.is_not(None), OutboxEvent.sent_at < cutoff)
            .order_by(OutboxEvent.sent_at)
            .limit(limit)
        )
        connection = self._in.connection
        ids = list(connection.scalars(doomed))
        if ids:
            connection.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(ids)))
        return len(ids)


class ActivityRepository:
    def __init__(self, transaction: Transaction) -> None:
        self._in = transaction

    def get(self, event_id: uuid.UUID) -> Activity | None:
        return self._in.session.get(Activity, event_id)

    def add(self, activity: Activity) -> Activity:
        session = self._in.session
        session.add(activity)
        session.flush()
        return activity

    def add_new(self, entries: Sequence[Activity]) -> set[uuid.UUID]:
        """Insert the entries whose event id is not recorded yet; the event ids inserted.

        One statement, ``INSERT ... ON CONFLICT (event_id) DO NOTHING RETURNING event_id``: a
        duplicate (already there, committed by another worker meanwhile, or twice in
        ``entries``) is skipped by the database, not raised, so it never aborts the others."""
        if not entries:
            return set()
        table = _table(Activity)
        # The mapped attributes are named as their columns.
        rows = [{column.key: getattr(entry, column.key) for column in table.c} for entry in entries]
        connection = self._in.connection
        upsert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        # On the table, not the ORM entity, with the rows as parameters: a statement compiled
        # once and cached, sent as one multi-row INSERT (SQLAlchemy's "insertmanyvalues").
        statement = (
            upsert(table)
            .on_conflict_do_nothing(index_elements=[table.c.event_id])
            .returning(table.c.event_id)
        )
        return set(connection.scalars(statement, rows))

    def list_page(self, limit: int, after: Position | None = None, *, owner: str) -> list[Activity]:
        """Up to ``limit`` of ``owner``'s entries, newest first (by occurredAt), strictly after
        ``after``."""
        statement = (
            select(Activity)
            .where(Activity.owner_id == owner)
            .order_by(Activity.occurred_at.desc(), Activity.event_id.desc())
            .limit(limit)
        )
        if after is not None:
            statement = statement.where(
                or_(
                    Activity.occurred_at < after.created_at,
                    and_(Activity.occurred_at == after.created_at, Activity.event_id < after.id),
                )
            )
        return list(self._in.session.scalars(statement))
