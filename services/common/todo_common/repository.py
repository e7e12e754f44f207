"""Data access for todos: the only module that writes SQL for the ``todos`` table."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from todo_common.models import Todo


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

    def get(self, todo_id: uuid.UUID, *, for_update: bool = False) -> Todo | None:
        statement = select(Todo).where(Todo.id == todo_id)
        if for_update:
            # PostgreSQL: row lock until commit, so concurrent partial updates
            # of one todo serialize instead of overwriting each other.
            statement = statement.with_for_update()
        return self.session.scalars(statement).one_or_none()

    def list_page(self, limit: int, after: Position | None = None) -> list[Todo]:
        """Up to ``limit`` todos, newest first, strictly after ``after``."""
        statement = select(Todo).order_by(Todo.created_at.desc(), Todo.id.desc()).limit(limit)
        if after is not None:
            statement = statement.where(
                or_(
                    Todo.created_at < after.created_at,
                    and_(Todo.created_at == after.created_at, Todo.id < after.id),
                )
            )
        return list(self.session.scalars(statement))

    def delete(self, todo_id: uuid.UUID) -> bool:
        result = self.session.execute(
            delete(Todo).where(Todo.id == todo_id).returning(Todo.id),
        )
        return result.first() is not None
