"""Unit of work: one transaction, the repositories that share it, one commit.

Every change to the data goes through a write unit of work::

    with uow_factory(write=True) as uow:
        todo = uow.todos.add(...)
        uow.commit()

and the domain event of each change (the transactional outbox) is added to
``uow.outbox`` in the same transaction by :mod:`todo_common.todos`. After a
commit that added events, the factory's ``on_events`` hook runs (the API's
relay uses it to publish at once instead of at its next poll).

Reads use ``write=False``. On PostgreSQL those run in autocommit, each
statement with its own snapshot: a read that needs several statements to see
one consistent state opens a write unit of work instead.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from todo_common.database import WRITE_OPTION
from todo_common.repository import ActivityRepository, OutboxRepository, TodoRepository


class UnitOfWork:
    """One connection and its transaction; an ORM session on it only when a repository asks.

    The hot statements (a page, a create, a delete, the worker's inserts) are Core statements
    on the connection: an ORM session opened, committed and closed around each of them cost a
    create about a tenth of its CPU. The ORM reads and changes (one todo's update, the relay's
    claimed events, one activity entry) get a session bound to the same connection, so both
    kinds share one transaction and one commit."""

    def __init__(
        self,
        engine: Engine,
        *,
        write: bool = False,
        on_events: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._write = write
        self._on_events = on_events
        self._connection: Connection | None = None
        self._session: Session | None = None
        self.todos = TodoRepository(self)
        self.outbox = OutboxRepository(self)
        self.activity = ActivityRepository(self)

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("unit of work used outside its `with` block")
        return self._connection

    @property
    def session(self) -> Session:
        """The ORM session on this unit's connection, opened on first use."""
        if self._session is None:
            # control_fully: the session's commit is this unit's commit (it flushes first).
            # Objects stay readable after it (not expired); nothing flushes unasked.
            self._session = Session(
                bind=self.connection,
                join_transaction_mode="control_fully",
                expire_on_commit=False,
                autoflush=False,
            )
        return self._session

    def __enter__(self) -> Self:
        connection = self._engine.connect()
        try:
            if self._write:
                # Opens the transaction now, as a write transaction (see WRITE_OPTION).
                connection.execution_options(**{WRITE_OPTION: True}).begin()
            elif connection.dialect.name == "postgresql":
                # A read is one statement, atomic on its own: autocommit saves the
                # BEGIN and ROLLBACK round trips. The pool restores the isolation
                # level when the connection is returned.
                connection.execution_options(isolation_level="AUTOCOMMIT")
        except BaseException:
            connection.close()  # e.g. SQLite busy past its timeout: the pool gets it back
            raise
        self._connection = connection
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing rolls back whatever was not committed and returns the connection; objects
        # the session loaded stay readable (detached, not expired).
        try:
            if self._session is not None:
                self._session.close()
        finally:
            self.connection.close()
            self._session = None
            self._connection = None

    def commit(self) -> None:
        if self._session is not None:
            # Flushes, then commits the transaction the session joined...
            self._session.commit()
        # ...which it joins only once it has run SQL: a session opened but never used still
        # leaves this unit's Core statements to commit here.
        if self.connection.in_transaction():
            self.connection.commit()
        if self.outbox.added and self._on_events is not None:
            self.outbox.added = 0
            self._on_events()


class UnitOfWorkFactory:
    """Callable that opens units of work on one engine."""

    def __init__(self, engine: Engine, on_events: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.on_events = on_events

    def __call__(self, *, write: bool = False) -> UnitOfWork:
        return UnitOfWork(self.engine, write=write, on_events=self.on_events)
