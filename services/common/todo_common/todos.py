"""Todo use cases, shared by every service that changes todos.

Each function takes an open unit of work and leaves the commit to the caller's
``with`` block. Every change adds its domain event to the outbox in the same
transaction (transactional outbox): the change and its event commit or roll
back together, so no change is lost on its way to the queue.

``owner`` is the signed-in user's id: a todo of another owner is, for every function here,
a todo that does not exist.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from todo_common.events import (
    TODO_COMPLETED,
    TODO_CREATED,
    TODO_DELETED,
    TODO_UPDATED,
    EventType,
    new_event,
)
from todo_common.models import NewEvent, NewTodo, Todo
from todo_common.repository import Position, TodoRow
from todo_common.tracing import current_traceparent, tracer
from todo_common.uow import UnitOfWork


def utc_now() -> datetime:
    """Now, truncated to milliseconds: what the API shows is what is stored,
    so a pagination cursor built from a shown timestamp matches exactly."""
    now = datetime.now(tz=UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def create_todo(uow: UnitOfWork, text: str, *, owner: str) -> NewTodo:
    now = utc_now()
    todo = NewTodo(id=uuid.uuid4(), text=text, created_at=now, updated_at=now, owner_id=owner)
    _to_outbox(uow, new_event(TODO_CREATED, todo.id, todo.text, now, owner=owner), new_todo=todo)
    return todo


def get_todo(uow: UnitOfWork, todo_id: uuid.UUID, *, owner: str) -> Todo | None:
    return uow.todos.get(todo_id, owner=owner)


def list_todos(
    uow: UnitOfWork, limit: int, after: Position | None = None, *, owner: str
) -> list[TodoRow]:
    return uow.todos.list_page(limit, after, owner=owner)


def update_todo(
    uow: UnitOfWork,
    todo_id: uuid.UUID,
    *,
    owner: str,
    text: str | None = None,
    completed: bool | None = None,
) -> Todo | None:
    """Apply the given fields; ``None`` leaves a field unchanged. None if absent."""
    todo = uow.todos.get(todo_id, owner=owner, for_update=True)
    if todo is None:
        return None
    was_completed = todo.completed
    if text is not None:
        todo.text = text
    if completed is not None:
        todo.completed = completed
    todo.updated_at = max(utc_now(), todo.created_at)
    todo.version += 1
    uow.session.flush()
    # Completing (false -> true) is its own event; anything else, reopening
    # included, is an update.
    kind: EventType = TODO_COMPLETED if todo.completed and not was_completed else TODO_UPDATED
    _to_outbox(uow, new_event(kind, todo.id, todo.text, todo.updated_at, owner=owner))
    return todo


def delete_todo(uow: UnitOfWork, todo_id: uuid.UUID, *, owner: str) -> bool:
    text = uow.todos.delete_returning_text(todo_id, owner=owner)
    if text is None:
        return False
    _to_outbox(uow, new_event(TODO_DELETED, todo_id, text, utc_now(), owner=owner))
    return True


def _to_outbox(uow: UnitOfWork, event: NewEvent, *, new_todo: NewTodo | None = None) -> None:
    """The change's event into the outbox (with ``new_todo``, the todo too, in one statement),
    in its own span: the row keeps that span's context, so the relay's publication and the
    worker's write continue the request's trace."""
    # No exception recorded in the span: a database error's text carries the row's values
    # (the todo's text, the owner), which have no place in X-Ray.
    with tracer.start_as_current_span(f"{event.type} outbox", record_exception=False) as span:
        # A span that is not sampled records nothing, and with tracing off there is no context
        # to pass on either: its attributes, or a copy of the event, would be built for nothing.
        if span.is_recording():
            span.set_attributes(
                {"messaging.message.id": str(event.id), "todo.id": str(event.todo_id)}
            )
        trace_parent = current_traceparent()
        if trace_parent is not None:
            event = replace(event, trace_parent=trace_parent)
        uow.outbox.add(event, new_todo=new_todo)
