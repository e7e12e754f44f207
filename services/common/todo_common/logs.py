"""Structured JSON logs: one object per line on stdout, ready for CloudWatch.

Every record carries time (UTC, milliseconds), level, logger, message and the
service name; the request id of the request being served is added from a
context variable, the trace and span ids of the current span (todo_common.tracing) when
there is one, and ``extra={...}`` fields are merged in as top-level keys.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from pydantic_core import PydanticSerializationError, to_json

from todo_common.tracing import log_fields

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra`.
_RESERVED = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName", "color_message"}
)


class JsonFormatter(logging.Formatter):
    """Formats a record as one compact JSON object: UTF-8 as it is; datetimes, UUIDs, sets and
    enums as pydantic writes them (ISO 8601, text, arrays, values); anything else as its
    ``str``; NaN and infinities as null, so that CloudWatch parses every line.

    Every request writes a line: the time's text is reused within a second, and the line is
    encoded by pydantic's serializer (compiled; a fifth of what the json module costs)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        # (second, its text), replaced as one value: threads format lines concurrently.
        self._second: tuple[int, str] = (-1, "")

    def _time(self, created: float) -> str:
        second = int(created)
        cached, text = self._second
        if second != cached:
            text = datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = (second, text)
        return f"{text}.{int((created - second) * 1000):03d}Z"

    def entry(
        self, created: float, level: str, logger: str, message: str, request_id: str | None
    ) -> dict[str, Any]:
        """The fields every line starts with; the request id, if not given, is the current
        request's, and the trace ids are the current span's."""
        entry: dict[str, Any] = {
            "time": self._time(created),
            "level": level,
            "logger": logger,
            "message": message,
            "service": self.service,
        }
        request_id = request_id or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update(log_fields())
        return entry

    @staticmethod
    def encode(entry: dict[str, Any]) -> str:
        try:
            return to_json(entry, fallback=str, inf_nan_mode="null").decode()
        except PydanticSerializationError:  # bytes that are not UTF-8: the line still goes out
            return json.dumps(entry, default=str, ensure_ascii=False, separators=(",", ":"))

    def format(self, record: logging.LogRecord) -> str:
        entry = self.entry(
            record.created,
            record.levelname,
            record.name,
            record.getMessage(),
            getattr(record, "request_id", None),
        )
        for key, value in vars(record).items():
            if key not in _RESERVED and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return self.encode(entry)


# How late a line of INFO or below may reach the log (a warning or worse is written at once).
FLUSH_SECONDS = 0.2
_STDOUT_BUFFER_BYTES = 64 * 1024


class BlockWritingHandler(logging.StreamHandler[TextIO]):
    """Writes each line into the stream's buffer, and the buffer out in blocks: at most
    :data:`FLUSH_SECONDS` after the first line it holds, at once for a warning or worse, and at
    exit (logging.shutdown flushes every handler).

    One write to the pipe per line was the largest cost of a request that does little else
    (the liveness probe: half its time). A process killed outright loses at most the last
    FLUSH_SECONDS of INFO lines; never an error."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._timer: threading.Timer | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write_line(self.format(record), record.levelno)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def write_line(self, line: str, level: int) -> None:
        """Writes one formatted line (the caller holds the handler's lock)."""
        self.stream.write(line + self.terminator)
        if level >= logging.WARNING:
            self.flush()
        elif self._timer is None:
            self._timer = threading.Timer(FLUSH_SECONDS, self._flush_later)
            self._timer.daemon = True
            self._timer.start()

    def _flush_later(self) -> None:
        with self.lock:  # type: ignore[union-attr] # created by Handler.__init__
            self._timer = None
        self.flush()

    def close(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self.flush()
        super().close()


# The handler configure_logging installed: log_fast writes to it directly.
_installed: BlockWritingHandler | None = None


def _only_to(handler: BlockWritingHandler, logger: logging.Logger) -> bool:
    """Whether an INFO record of ``logger`` would go to ``handler`` alone, unfiltered, unchanged."""
    if handler.filters or handler.level > logging.INFO:
        return False
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters or current.disabled:
            return False
        if current.handlers:
            return current.parent is None and current.handlers == [handler]
        current = current.parent if current.propagate else None
    return False


def log_fast(logger: logging.Logger, message: str, request_id: str, fields: dict[str, Any]) -> None:
    """An INFO line of ``logger`` with ``request_id`` and ``fields``, as ``logger.info`` would
    write it, without building a record: for the line every request writes (the record and its
    handling were half of what the access line cost, and the access line as much as the whole
    liveness answer). Goes through ``logger.info`` whenever anything else would see the line:
    another handler (a test's capture), a filter, another formatter."""
    if not logger.isEnabledFor(logging.INFO):
        return
    handler = _installed
    formatter = handler.formatter if handler is not None else None
    # Exactly the JSON formatter: a subclass may format differently.
    if handler is None or type(formatter) is not JsonFormatter or not _only_to(handler, logger):
        logger.info("%s", message, extra={"request_id": request_id, **fields})
        return
    try:
        entry = formatter.entry(time.time(), "INFO", logger.name, message, request_id)
        for key, value in fields.items():
            entry.setdefault(key, value)
        line = formatter.encode(entry)
        with handler.lock:  # type: ignore[union-attr] # created by Handler.__init__
            handler.write_line(line, logging.INFO)
    except Exception:  # as Handler.emit: a failed line is reported, never raised to the request
        handler.handleError(logging.makeLogRecord({"name": logger.name, "msg": message}))


def buffered_stdout() -> TextIO:
    """Standard output with a buffer of its own. The images run with PYTHONUNBUFFERED (a
    print is never lost), which makes sys.stdout write through; the log handler decides when
    its lines go out instead."""
    try:
        raw = io.FileIO(sys.stdout.fileno(), "w", closefd=False)
    except (AttributeError, OSError, ValueError):  # replaced by a test's capture: keep it
        return sys.stdout
    buffered = io.BufferedWriter(raw, buffer_size=_STDOUT_BUFFER_BYTES)
    return io.TextIOWrapper(buffered, encoding="utf-8", errors="backslashreplace")


def configure_logging(level: str, service: str, stream: TextIO | None = None) -> None:
    """Route every logger (uvicorn's, SQLAlchemy's, ours) through one JSON handler."""
    # No line shows the process, the thread or the calling line: don't look them up for every
    # record (the logging HOWTO's "Optimization"; the caller's frame was a third of a line).
    logging.logProcesses = logging.logThreads = logging.logMultiprocessing = False
    logging._srcfile = None
    global _installed  # noqa: PLW0603 - one handler per process, replaced as a whole
    handler = BlockWritingHandler(stream or buffered_stdout())
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    _installed = handler
    root.setLevel(level)
    # uvicorn installs its own handlers only when given a log config; make sure
    # its loggers propagate to ours and that its access log stays off (the API
    # writes its own access line with the request id).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # boto and the SQL echo are noisy at INFO; they stay at WARNING unless asked.
    for name in ("botocore", "boto3", "urllib3", "sqlalchemy.engine"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
