"""JSON log lines: one object per line with the request id when there is one."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from todo_common.logs import configure_logging, log_fast, request_id_var


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


def test_values_json_has_no_type_for_still_make_one_parseable_line(stream: io.StringIO) -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque thing"

    log = logging.getLogger("todo.test")
    log.info("odd", extra={"thing": Opaque(), "ratio": float("nan"), "text": "é"})
    log.info("raw", extra={"raw": b"\xff\xfe"})
    odd, raw = lines(stream)
    assert odd["thing"] == "opaque thing"
    assert odd["ratio"] is None
    assert odd["text"] == "é"
    assert raw["raw"] == "b'\\xff\\xfe'"
    assert list(odd)[-3:] == ["thing", "ratio", "text"]


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


def test_a_fast_line_is_the_line_a_record_would_give(stream: io.StringIO) -> None:
    access = logging.getLogger("todo.test.access")
    fields = {"method": "GET", "path": "/api/health", "status": 200, "duration_ms": 0.1}
    log_fast(access, "GET /api/health 200", "req-7", fields)
    access.info("%s", "GET /api/health 200", extra={"request_id": "req-7", **fields})
    fast, record = lines(stream)
    assert fast.pop("time") and record.pop("time")
    assert list(fast.items()) == list(record.items())
    assert fast["request_id"] == "req-7"
    assert fast["status"] == 200


def test_a_fast_line_goes_through_logging_when_anything_else_would_see_it(
    stream: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    access = logging.getLogger("todo.test.access")
    with caplog.at_level(logging.INFO):
        log_fast(access, "GET / 200", "req-8", {"status": 200})
    [record] = caplog.records
    assert record.getMessage() == "GET / 200"
    assert record.__dict__["request_id"] == "req-8"
    [line] = lines(stream)  # and the JSON handler still writes it, once
    assert line["status"] == 200


def test_a_fast_line_below_the_level_is_dropped(stream: io.StringIO) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    log_fast(logging.getLogger("todo.test.access"), "GET / 200", "req-9", {"status": 200})
    assert stream.getvalue() == ""


def test_a_fast_line_that_cannot_be_written_is_reported_not_raised(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Broken(io.StringIO):
        def write(self, _text: str) -> int:
            raise OSError("the pipe is gone")

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("INFO", "todo-test", stream=Broken())
    try:
        log_fast(logging.getLogger("todo.test.access"), "GET / 200", "req-10", {"status": 200})
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert "the pipe is gone" in capsys.readouterr().err
