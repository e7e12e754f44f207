"""Data access: the only module that writes SQL for the ``todos``, ``outbox``
and ``activity`` tables.

Every read and change of a todo or of activity names its owner: a row of another owner (or of
none) is not there for the caller, exactly as a missing one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from todo_common.models import Activity, OutboxEvent, Todo


@dataclass(frozen=True)
class Position:
    """A keyset position in the newest-first order: (created_at, id)."""

    created_at: datetime
    id: uuid.UUID


class TodoRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, todo: Todo) -> Todo:
        self.session.add(todo)
        self.session.flush()
        return todo

    def get(self, todo_id: uuid.UUID, *, owner: str, for_update: bool = False) -> Todo | None:
        statement = select(Todo).where(Todo.id == todo_id, Todo.owner_id == owner)
        if for_update:
            # PostgreSQL: row lock until commit, so concurrent partial updates
            # of one todo serialize instead of overwriting each other.
            statement = statement.with_for_update()
        return self.session.scalars(statement).one_or_none()

    def list_page(self, limit: int, after: Position | None = None, *, owner: str) -> list[Todo]:
        """Up to ``limit`` of ``owner``'s todos, newest first, strictly after ``after``."""
        statement = (
            select(Todo)
            .where(Todo.owner_id == owner)
            .order_by(Todo.created_at.desc(), Todo.id.desc())
            .limit(limit)
        )
        if after is not None:
            statement = statement.where(
                or_(
                    Todo.created_at < after.created_at,
                    and_(Todo.created_at == after.created_at, Todo.id < after.id),
                )
            )
        return list(self.session.scalars(statement))

    def delete_returning_text(self, todo_id: uuid.UUID, *, owner: str) -> str | None:
        """Delete ``owner``'s todo; its text, or None if ``owner`` has no such todo."""
        result = self.session.execute(
            delete(Todo).where(Todo.id == todo_id, Todo.owner_id == owner).returning(Todo.text),
        )
        row = result.first()
        return None if row is None else str(row[0])


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.added = 0

    def add(self, event: OutboxEvent) -> OutboxEvent:
        self.session.add(event)
        self.session.flush()
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
        return list(self.session.scalars(statement))

    def mark_sent(self, ids: list[uuid.UUID], sent_at: datetime) -> None:
        if ids:
            self.session.execute(
                update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(sent_at=sent_at)
            )

    def pending_count(self) -> int:
        statement = select(func.count()).where(OutboxEvent.sent_at.is_(None))
        return int(self.session.execute(statement).scalar_one())

    def oldest_pending_at(self) -> datetime | None:
        """When the oldest unsent event happened: how far publication lags."""
        statement = select(func.min(OutboxEvent.occurred_at)).where(OutboxEvent.sent_at.is_(None))
        return self.session.execute(statement).scalar_one()

    def delete_sent_before(self, cutoff: datetime, limit: int) -> int:
        """Forget up to ``limit`` events published before ``cutoff``; pending ones stay.

        Bounded so one pass never holds a long delete on a large backlog."""
        doomed = (
            select(OutboxEvent.id)
            .where(OutboxEvent.sent_at.is_not(None), OutboxEvent.sent_at < cutoff)
            .order_by(OutboxEvent.sent_at)
            .limit(limit)
        )
        ids = list(self.session.scalars(doomed))
        if ids:
            self.session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(ids)))
        return len(ids)


class ActivityRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, event_id: uuid.UUID) -> Activity | None:
        return self.session.get(Activity, event_id)

    def add(self, activity: Activity) -> Activity:
        self.session.add(activity)
        self.session.flush()
        return activity

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
        return list(self.session.scalars(statement))
