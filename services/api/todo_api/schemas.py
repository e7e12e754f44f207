"""Request and response bodies. Strict: no coercion, no unknown fields."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from todo_common.events import utc_millis
from todo_common.models import TEXT_MAX_LENGTH

_ALLOWED_CONTROL = {"\t", "\n", "\r"}


def clean_text(value: str) -> str:
    """Surrounding whitespace is dropped; blank text and control characters
    (PostgreSQL cannot store NUL) are refused. Lone surrogates never get here:
    pydantic refuses them as invalid Unicode."""
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    for char in value:
        if unicodedata.category(char) == "Cc" and char not in _ALLOWED_CONTROL:
            raise ValueError("must not contain control characters")
    return value


_TEXT_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": TEXT_MAX_LENGTH,
    "description": "What to do: 1 to 500 characters, not blank; surrounding whitespace is trimmed.",
    "examples": ["Buy milk"],
}

TodoText = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=TEXT_MAX_LENGTH),
    AfterValidator(clean_text),
]


UtcMillis = Annotated[
    datetime,
    PlainSerializer(utc_millis, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$",
            "examples": ["2026-01-31T12:00:00.000Z"],
        }
    ),
]


class TodoCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"additionalProperties": False})

    text: Annotated[TodoText, WithJsonSchema(_TEXT_SCHEMA)]


class TodoUpdate(BaseModel):
    """Any of the fields; an absent field is left as it is. ``null`` is refused."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"minProperties": 1, "additionalProperties": False}
    )

    text: Annotated[TodoText | None, WithJsonSchema(_TEXT_SCHEMA)] = None
    completed: Annotated[StrictBool | None, WithJsonSchema({"type": "boolean"})] = None

    @field_validator("text", "completed", mode="before")
    @classmethod
    def _no_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("must have at least one of text, completed")
        return self


# Responses: camelCase on the wire, read from ORM rows, nothing undocumented.
_RESPONSE_CONFIG = ConfigDict(
    alias_generator=to_camel,
    validate_by_name=True,
    validate_by_alias=True,
    from_attributes=True,
    json_schema_extra={"additionalProperties": False},
)


class TodoOut(BaseModel):
    model_config = _RESPONSE_CONFIG

    id: uuid.UUID
    text: str
    completed: bool
    created_at: UtcMillis = Field(description="When it was created (UTC, milliseconds).")
    updated_at: UtcMillis = Field(description="When it last changed (UTC, milliseconds).")


# The response bodies' serializers, built once.
TODO: TypeAdapter[TodoOut] = TypeAdapter(TodoOut)
TODO_PAGE: TypeAdapter[list[TodoOut]] = TypeAdapter(list[TodoOut])


class ActivityOut(BaseModel):
    """One processed event, as the worker recorded it."""

    model_config = _RESPONSE_CONFIG

    event_id: uuid.UUID
    type: str = Field(examples=["todo.completed"])
    todo_id: uuid.UUID
    text: str | None = Field(description="The todo's text after the change.")
    occurred_at: UtcMillis = Field(description="When the change happened (UTC, milliseconds).")
    processed_at: UtcMillis = Field(description="When the worker recorded it.")


ACTIVITY_PAGE: TypeAdapter[list[ActivityOut]] = TypeAdapter(list[ActivityOut])


class Health(BaseModel):
    status: str = Field(examples=["ok"])
