"""Domain events: what the outbox stores, the relay publishes and the worker reads.

The message body (schema version 1) is a JSON object::

    {"eventId": "<uuid>", "type": "todo.completed", "todoId": "<uuid>",
     "occurredAt": "2026-01-31T12:00:00.000Z", "schemaVersion": 1, "text": "Buy milk"}

``text`` is the todo's text after the change (``null`` is allowed).

The todo's owner is not in the body: the previous release's worker refuses a body with a field
it does not know, so a new field would send its events to the DLQ during a rollout or after a
rollback. It travels as the message attribute :data:`OWNER_ATTRIBUTE` instead (SNS hands
message attributes on to SQS with raw delivery), and the outbox row keeps it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError
from pydantic_core import to_json

from todo_common.models import TEXT_MAX_LENGTH, NewEvent

SCHEMA_VERSION = 1
EventType = Literal["todo.created", "todo.updated", "todo.completed", "todo.deleted"]
TODO_CREATED: Final = "todo.created"
TODO_UPDATED: Final = "todo.updated"
TODO_COMPLETED: Final = "todo.completed"
TODO_DELETED: Final = "todo.deleted"
# A message is refused past this size (SQS's own limit is 256 KiB).
MAX_BODY_BYTES = 16 * 1024
# The message attribute naming the todo's owner (a String attribute).
OWNER_ATTRIBUTE: Final = "ownerId"


class InvalidEventError(ValueError):
    """A message body that is not a version-1 event; ``str()`` says why."""


_ZERO = timedelta(0)
# Zero-padded numbers, looked up: datetime.isoformat formats each field through printf, and the
# timestamps were half of what serializing a page of todos cost.
_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))
_THREE_DIGITS = tuple(f"{n:03d}" for n in range(1000))


def utc_millis(value: datetime) -> str:
    """``value`` in UTC, to the millisecond: ``2026-01-31T12:00:00.000Z`` (how the API and
    the events show every timestamp)."""
    # At offset zero already (datetime.UTC, or the database session's Etc/UTC) it is shown as
    # it is: a conversion costs what the formatting does.
    if value.utcoffset() != _ZERO:
        value = value.astimezone(UTC)
    two = _TWO_DIGITS
    return (
        f"{value.year:04d}-{two[value.month]}-{two[value.day]}T{two[value.hour]}:"
        f"{two[value.minute]}:{two[value.second]}.{_THREE_DIGITS[value.microsecond // 1000]}Z"
    )


class EventMessage(BaseModel):
    """A parsed message body. Strict: unknown fields and wrong types are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID = Field(alias="eventId")
    type: EventType
    todo_id: uuid.UUID = Field(alias="todoId")
    occurred_at: datetime = Field(alias="occurredAt")
    schema_version: Annotated[StrictInt, Field(alias="schemaVersion", ge=1, le=1)]
    text: Annotated[str | None, Field(max_length=TEXT_MAX_LENGTH)] = None


def parse_event(body: str) -> EventMessage:
    """The event in a message body, or :class:`InvalidEventError` saying why."""
    if len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise InvalidEventError(f"body over {MAX_BODY_BYTES} bytes")
    try:
        event = EventMessage.model_validate_json(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidEventError(f"{where}: {first['msg']}") from None
    if event.occurred_at.tzinfo is None:
        raise InvalidEventError("occurredAt: must carry a time zone")
    return event


def event_body(
    event_id: uuid.UUID,
    type_: EventType,
    todo_id: uuid.UUID,
    occurred_at: datetime,
    text: str | None,
) -> str:
    """The version-1 message body of an event: what :func:`parse_event` reads back. Compact,
    UTF-8 as it is (what ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` writes,
    by pydantic's compiled serializer: the json module built an encoder for every change)."""
    body = {
        "eventId": str(event_id),
        "type": type_,
        "todoId": str(todo_id),
        "occurredAt": utc_millis(occurred_at),
        "schemaVersion": SCHEMA_VERSION,
        "text": text,
    }
    return to_json(body).decode()


def new_event(
    type_: EventType,
    todo_id: uuid.UUID,
    text: str | None,
    occurred_at: datetime,
    *,
    owner: str | None,
) -> NewEvent:
    """An outbox row for a change to one todo, with its message body and owner."""
    event_id = uuid.uuid4()
    return NewEvent(
        id=event_id,
        type=type_,
        todo_id=todo_id,
        occurred_at=occurred_at,
        schema_version=SCHEMA_VERSION,
        body=event_body(event_id, type_, todo_id, occurred_at, text),
        owner_id=owner,
    )
