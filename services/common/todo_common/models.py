"""ORM models. Alembic migrations (``todo_common/migrations``) own the schema.

Next to ``todos``: ``outbox``, the domain events written in the same
transaction as each change (published to SQS by the API's relay), and
``activity``, one row per event the worker processed (keyed by the event id,
which makes processing idempotent).

A row about to be inserted is a plain value (:class:`NewTodo`, :class:`NewEvent`), its fields
named as the table's columns. The ORM maps the rows read back: ORM objects built only to be
inserted cost every create CPU for nothing (docs/performance.md has the figures).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import expression
from sqlalchemy.types import TypeDecorator

from todo_common.tracing import TRACEPARENT_LENGTH

TEXT_MAX_LENGTH = 500
# The issuer's user id (Cognito's `sub`, a UUID; room for other issuers' ids).
OWNER_MAX_LENGTH = 128

# Deterministic constraint names: migrations can drop or alter them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp on every backend, stored as UTC.

    PostgreSQL stores ``timestamptz``, and psycopg reads it back aware, in the session's time
    zone (the server's ``timezone`` setting: UTC on Aurora, ``Etc/UTC`` on Debian's
    PostgreSQL): the same instant, read as it comes. SQLite has no time zones, so values are
    stored as naive UTC and made aware (UTC) again on the way out. Whatever shows a timestamp
    converts it to UTC (todo_common.events.utc_millis).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        if dialect.name == "postgresql":
            # Nothing to do per value: converting each one to datetime.UTC cost a page of 50
            # todos a twentieth of its CPU (docs/performance.md).
            return None
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, _dialect: Dialect) -> datetime | None:
        # Only SQLite's values come here (result_processor), stored as naive UTC.
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Todo(Base):
    __tablename__ = "todos"

    id: Mapped[uuid.UUID] = mapped_column(Uuid(as_uuid=True), primary_key=True)
    text: Mapped[str] = mapped_column(String(TEXT_MAX_LENGTH), nullable=False)
    completed: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=expression.false()
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # Bumped on every change: the per-aggregate sequence number the outbox's
    # events will carry, and a cheap ETag should the API want one.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    # Who may see and change it. NULL: written before ownership existed (or by the previous
    # release during a rollout): nobody's (docs/auth.md).
    owner_id: Mapped[str | None] = mapped_column(String(OWNER_MAX_LENGTH), nullable=True)

    __table_args__ = (
        # Newest-first keyset pagination: ORDER BY created_at DESC, id DESC.
        Index("ix_todos_created_at_id", "created_at", "id"),
        # The same, within one owner's todos: what every list request reads.
        Index("ix_todos_owner_id_created_at_id", "owner_id", "created_at", "id"),
    )

    def __repr__(self) -> str:
        return f"Todo(id={self.id}, completed={self.completed}, version={self.version})"


@dataclass(frozen=True, slots=True, kw_only=True)
class NewTodo:
    """A todo to insert: every column of ``todos``."""

    id: uuid.UUID
    text: str
    created_at: datetime
    updated_at: datetime
    owner_id: str | None
    completed: bool = False
    version: int = 1


EVENT_TYPE_MAX_LENGTH = 32


class OutboxEvent(Base):
    """A domain event waiting for (or done with) publication to the queue."""

    __tablename__ = "outbox"

    id: Mapped[uuid.UUID] = mapped_column(Uuid(as_uuid=True), primary_key=True)
    type: Mapped[str] = mapped_column(String(EVENT_TYPE_MAX_LENGTH), nullable=False)
    todo_id: Mapped[uuid.UUID] = mapped_column(Uuid(as_uuid=True), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    schema_version: Mapped[int] = mapped_column(Integer, nullable=False)
    # The message body, exactly as published (JSON).
    body: Mapped[str] = mapped_column(Text, nullable=False)
    # NULL while pending; set in the transaction that saw SQS accept it.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Published as the message attribute ownerId, beside the (version 1) body.
    owner_id: Mapped[str | None] = mapped_column(String(OWNER_MAX_LENGTH), nullable=True)
    # The W3C traceparent of the span that wrote the row: the relay publishes the event in
    # the same trace (todo_common.tracing). NULL: written untraced, or by an older release.
    trace_parent: Mapped[str | None] = mapped_column(String(TRACEPARENT_LENGTH), nullable=True)

    __table_args__ = (
        # The relay's scan: pending rows, oldest first.
        Index("ix_outbox_sent_at_occurred_at", "sent_at", "occurred_at"),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class NewEvent:
    """An outbox row to insert: every column of ``outbox`` (pending: no ``sent_at``)."""

    id: uuid.UUID
    type: str
    todo_id: uuid.UUID
    occurred_at: datetime
    schema_version: int
    body: str
    owner_id: str | None
    trace_parent: str | None = None
    sent_at: datetime | None = None


class Activity(Base):
    """What the worker recorded for one event; the primary key is the event id."""

    __tablename__ = "activity"

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid(as_uuid=True), primary_key=True)
    type: Mapped[str] = mapped_column(String(EVENT_TYPE_MAX_LENGTH), nullable=False)
    todo_id: Mapped[uuid.UUID] = mapped_column(Uuid(as_uuid=True), nullable=False)
    text: Mapped[str | None] = mapped_column(String(TEXT_MAX_LENGTH), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    owner_id: Mapped[str | None] = mapped_column(String(OWNER_MAX_LENGTH), nullable=True)

    __table_args__ = (
        # Newest-first keyset pagination: ORDER BY occurred_at DESC, event_id DESC.
        Index("ix_activity_occurred_at_event_id", "occurred_at", "event_id"),
        Index("ix_activity_owner_id_occurred_at_event_id", "owner_id", "occurred_at", "event_id"),
    )
