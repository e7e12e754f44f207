"""The outbox event a change writes is the version-1 message the worker reads back."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from todo_common.events import (
    TODO_COMPLETED,
    TODO_CREATED,
    TODO_DELETED,
    new_event,
    parse_event,
    utc_millis,
)

WHEN = datetime(2026, 12, 4, 9, 30, 15, 123000, tzinfo=UTC)


@pytest.mark.parametrize("text", ["Buy milk", 'Café ☕ «quoted» "and" \\slashed', None])
def test_new_event_body_reads_back_as_the_same_event(text: str | None) -> None:
    todo_id = uuid.uuid4()
    event = new_event(TODO_COMPLETED, todo_id, text, WHEN, owner="user-1")

    message = parse_event(event.body)

    assert (message.event_id, message.type, message.todo_id) == (event.id, TODO_COMPLETED, todo_id)
    assert (message.occurred_at, message.schema_version, message.text) == (WHEN, 1, text)
    assert (event.type, event.todo_id, event.occurred_at, event.owner_id) == (
        TODO_COMPLETED,
        todo_id,
        WHEN,
        "user-1",
    )


def test_new_event_body_is_the_compact_version_1_document() -> None:
    # Another zone on the way in: the body says the same instant in UTC, to the millisecond.
    local = WHEN.astimezone(timezone(timedelta(hours=-5)))
    event = new_event(TODO_CREATED, uuid.UUID(int=7), "Café", local, owner=None)

    assert json.loads(event.body) == {
        "eventId": str(event.id),
        "type": "todo.created",
        "todoId": "00000000-0000-0000-0000-000000000007",
        "occurredAt": "2026-12-04T09:30:15.123Z",
        "schemaVersion": 1,
        "text": "Café",
    }
    assert "Café" in event.body  # UTF-8 as is, not \u escapes
    assert ", " not in event.body and ": " not in event.body


def test_every_event_has_its_own_id() -> None:
    todo_id = uuid.uuid4()
    first, second = (new_event(TODO_DELETED, todo_id, None, WHEN, owner="u") for _ in range(2))
    assert first.id != second.id
    assert parse_event(first.body).event_id == first.id


@pytest.mark.parametrize(
    "zone",
    [
        UTC,
        ZoneInfo("Etc/UTC"),
        ZoneInfo("Europe/London"),
        ZoneInfo("Asia/Kolkata"),
        timezone(-timedelta(hours=5)),
    ],
    ids=str,
)
def test_a_timestamp_shows_as_utc_to_the_millisecond_from_any_zone(zone: tzinfo) -> None:
    # Etc/UTC is what Debian's PostgreSQL sessions give; London is at offset zero in December.
    assert (
        utc_millis(WHEN.replace(microsecond=123999).astimezone(zone)) == "2026-12-04T09:30:15.123Z"
    )


@given(st.datetimes(timezones=st.timezones()))
def test_utc_millis_is_iso_8601_in_utc_truncated_to_the_millisecond(value: datetime) -> None:
    try:
        expected = value.astimezone(UTC).isoformat(timespec="milliseconds")
    except OverflowError:  # within hours of year 1 or 9999: no such instant in UTC
        return
    assert utc_millis(value) == expected.removesuffix("+00:00") + "Z"


@given(st.one_of(st.none(), st.text()))
def test_an_event_body_is_what_the_json_module_writes_compact_and_utf_8(text: str | None) -> None:
    event = new_event(TODO_CREATED, uuid.UUID(int=7), text, WHEN, owner=None)
    expected = {
        "eventId": str(event.id),
        "type": "todo.created",
        "todoId": "00000000-0000-0000-0000-000000000007",
        "occurredAt": "2026-12-04T09:30:15.123Z",
        "schemaVersion": 1,
        "text": text,
    }
    assert event.body == json.dumps(expected, ensure_ascii=False, separators=(",", ":"))
