"""EMF records: a JSON log line CloudWatch turns into metrics."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from todo_common.logs import configure_logging
from todo_common.metrics import emf_fields


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    configure_logging("INFO", "todo-api", stream=buffer)
    yield buffer
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_a_logged_record_is_valid_emf_next_to_the_usual_fields(stream: io.StringIO) -> None:
    fields = emf_fields(
        namespace="todo/dev",
        dimensions={"Service": "todo-api"},
        metrics={"OutboxPending": (3, "Count"), "OutboxOldestPendingAgeSeconds": (42.5, "Seconds")},
        timestamp=datetime(2026, 11, 22, 12, 0, 1, 500000, tzinfo=UTC),
    )
    logging.getLogger("todo_api.relay").info("outbox status", extra=fields)
    (entry,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert entry["_aws"] == {
        "Timestamp": 1795348801500,
        "CloudWatchMetrics": [
            {
                "Namespace": "todo/dev",
                "Dimensions": [["Service"]],
                "Metrics": [
                    {"Name": "OutboxPending", "Unit": "Count"},
                    {"Name": "OutboxOldestPendingAgeSeconds", "Unit": "Seconds"},
                ],
            }
        ],
    }
    # EMF reads the dimension and metric values from top-level keys of the same object.
    assert (entry["Service"], entry["OutboxPending"], entry["OutboxOldestPendingAgeSeconds"]) == (
        "todo-api",
        3,
        42.5,
    )
    assert (entry["message"], entry["service"]) == ("outbox status", "todo-api")
