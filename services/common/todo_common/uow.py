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

from sqlalchemy.orm import Session, sessionmaker

from todo_common.database import WRITE_OPTION
from todo_common.repository import ActivityRepository, OutboxRepository, TodoRepository


class UnitOfWork:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        write: bool = False,
        on_events: Callable[[], None] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._write = write
        self._on_events = on_events
        self._session: Session | None = None
        self.todos: TodoRepository
        self.outbox: OutboxRepository
        self.activity: ActivityRepository

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("unit of work used outside its `with` block")
        return self._session

    def __enter__(self) -> Self:
        self._session = self._session_factory()
        if self._write:
            # Opens the transaction now, as a write transaction (see WRITE_OPTION).
            self._session.connection(execution_options={WRITE_OPTION: True})
        elif self._session.get_bind().dialect.name == "postgresql":
            # A read is one statement, atomic on its own: autocommit saves the
            # BEGIN and ROLLBACK round trips. The pool restores the isolation
            # level when the connection is returned.
            self._session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        self.todos = TodoRepository(self._session)
        self.outbox = OutboxRepository(self._session)
        self.activity = ActivityRepository(self._session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed and returns the
        # connection; loaded objects stay readable (detached, not expired).
        self.session.close()
        self._session = None

    def commit(self) -> None:
        self.session.commit()
        if self.outbox.added and self._on_events is not None:
            self.outbox.added = 0
            self._on_events()


class UnitOfWorkFactory:
    """Callable that opens units of work on one session factory."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        on_events: Callable[[], None] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.on_events = on_events

    def __call__(self, *, write: bool = False) -> UnitOfWork:
        return UnitOfWork(self.session_factory, write=write, on_events=self.on_events)
