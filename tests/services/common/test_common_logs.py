"""JSON log lines: one object per line with the request id when there is one."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from todo_common.logs import configure_logging, request_id_var


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    configure_logging("INFO", "todo-test", stream=buffer)
    yield buffer
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_is_one_json_object_with_extras(stream: io.StringIO) -> None:
    logging.getLogger("todo.test").info("hello %s", "world", extra={"status": 201})
    logging.getLogger("todo.test").debug("below the level")
    [entry] = lines(stream)
    assert entry["message"] == "hello world"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "todo.test"
    assert entry["service"] == "todo-test"
    assert entry["status"] == 201
    assert str(entry["time"]).endswith("Z")
    assert "request_id" not in entry


def test_the_request_id_of_the_current_request_is_added(stream: io.StringIO) -> None:
    token = request_id_var.set("req-42")
    try:
        logging.getLogger("todo.test").warning("inside a request")
    finally:
        request_id_var.reset(token)
    logging.getLogger("todo.test").warning("outside")
    inside, outside = lines(stream)
    assert inside["request_id"] == "req-42"
    assert "request_id" not in outside


def test_exceptions_stay_inside_the_one_line(stream: io.StringIO) -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        logging.getLogger("todo.test").exception("failed")
    [entry] = lines(stream)
    assert "ValueError: bad" in str(entry["exception"])
    assert len(stream.getvalue().splitlines()) == 1


def test_uvicorn_access_log_is_off_and_its_errors_propagate(stream: io.StringIO) -> None:
    logging.getLogger("uvicorn.access").info("duplicate access line")
    logging.getLogger("uvicorn.error").info("Started server process")
    assert [entry["message"] for entry in lines(stream)] == ["Started server process"]
