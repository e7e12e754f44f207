"""The repository's PostgreSQL create: the statement it sends as the driver's SQL."""

from __future__ import annotations

from todo_common.repository import _INSERT_TODO_AND_EVENT, _INSERT_TODO_AND_EVENT_SQL, _PSYCOPG


def test_the_postgres_create_statement_waives_only_the_timestamp_and_boolean_checks() -> None:
    # It is sent as the driver's SQL, without SQLAlchemy's bind processing: safe only while the
    # values it skips are the timestamps utc_now() makes and a bool. A column whose type needs
    # its processing (JSON, an enum, a decorator) must not join it unnoticed.
    compiled = _INSERT_TODO_AND_EVENT.compile(dialect=_PSYCOPG)
    assert str(compiled) == _INSERT_TODO_AND_EVENT_SQL
    assert set(compiled._bind_processors) == {
        "todo_completed",
        "todo_created_at",
        "todo_updated_at",
        "event_occurred_at",
        "event_sent_at",
    }
