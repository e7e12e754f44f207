"""Todo use cases, shared by every service that changes todos.

Each function takes an open unit of work and leaves the commit to the caller's
``with`` block, so several changes (and, later, their outbox events) commit
or roll back together.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from todo_common.models import Todo
from todo_common.repository import Position
from todo_common.uow import UnitOfWork


def utc_now() -> datetime:
    """Now, truncated to milliseconds: what the API shows is what is stored,
    so a pagination cursor built from a shown timestamp matches exactly."""
    now = datetime.now(tz=UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def create_todo(uow: UnitOfWork, text: str) -> Todo:
    now = utc_now()
    todo = Todo(
        id=uuid.uuid4(), text=text, completed=False, created_at=now, updated_at=now, version=1
    )
    return uow.todos.add(todo)


def get_todo(uow: UnitOfWork, todo_id: uuid.UUID) -> Todo | None:
    return uow.todos.get(todo_id)


def list_todos(uow: UnitOfWork, limit: int, after: Position | None = None) -> list[Todo]:
    return uow.todos.list_page(limit, after)


def update_todo(
    uow: UnitOfWork,
    todo_id: uuid.UUID,
    *,
    text: str | None = None,
    completed: bool | None = None,
) -> Todo | None:
    """Apply the given fields; ``None`` leaves a field unchanged. None if absent."""
    todo = uow.todos.get(todo_id, for_update=True)
    if todo is None:
        return None
    if text is not None:
        todo.text = text
    if completed is not None:
        todo.completed = completed
    todo.updated_at = max(utc_now(), todo.created_at)
    todo.version += 1
    uow.session.flush()
    return todo


def delete_todo(uow: UnitOfWork, todo_id: uuid.UUID) -> bool:
    return uow.todos.delete(todo_id)
