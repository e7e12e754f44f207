"""Tracing set-up: where spans go, the ids X-Ray accepts, the context that travels in messages,
and the trace id on log lines."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from todo_common.logs import JsonFormatter
from todo_common.settings import CommonSettings, SettingsError, load_settings
from todo_common.tracing import (
    EXPORT_TIMEOUT_SECONDS,
    XRayIdGenerator,
    build_provider,
    context_of,
    current_traceparent,
    shutdown_tracing,
    xray_trace_id,
)


def test_trace_ids_start_with_the_time_x_ray_files_them_by() -> None:
    before = int(time.time())
    trace_id = XRayIdGenerator().generate_trace_id()
    after = int(time.time())
    assert before <= trace_id >> 96 <= after
    assert len({XRayIdGenerator().generate_trace_id() for _ in range(100)}) == 100
    assert (
        xray_trace_id(0x5759E988BD862E3FE1BE46A994272793) == "1-5759e988-bd862e3fe1be46a994272793"
    )


def test_no_exporter_means_no_sdk() -> None:
    assert build_provider(CommonSettings()) is None


def test_console_exporter_writes_each_span_as_one_json_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    provider = build_provider(CommonSettings(tracing_exporter="console", service_name="todo-x"))
    assert provider is not None
    provider.get_tracer("test").start_span("one span").end()
    provider.shutdown()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    span = json.loads(lines[0])
    assert span["name"] == "one span"
    assert span["resource"]["attributes"]["service.name"] == "todo-x"


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver on loopback: what the collector sidecar is to the service."""

    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    _Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    server.shutdown()
    server.server_close()


def test_otlp_exporter_posts_protobuf_spans_to_the_configured_endpoint(collector: str) -> None:
    settings = CommonSettings(
        tracing_exporter="otlp", tracing_endpoint=collector, service_name="todo-api"
    )
    provider = build_provider(settings)
    assert provider is not None
    span = provider.get_tracer("test").start_span("GET /api/todos")
    span.end()
    assert provider.force_flush(timeout_millis=10_000)
    provider.shutdown()

    [(path, content_type, body)] = _Collector.received
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    request = ExportTraceServiceRequest.FromString(body)
    [resource_spans] = request.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert service["service.name"] == "todo-api"
    [exported] = resource_spans.scope_spans[0].spans
    assert exported.name == "GET /api/todos"
    assert int.from_bytes(exported.trace_id) == span.get_span_context().trace_id


def test_a_new_trace_is_sampled_at_the_ratio_and_a_continued_one_keeps_its_decision() -> None:
    exporter = InMemorySpanExporter()
    never = CommonSettings(tracing_sample_ratio=0.0)
    provider = build_provider(never, exporter=exporter)
    assert provider is not None
    tracer = provider.get_tracer("test")
    tracer.start_span("new trace").end()
    sampled_parent = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
    tracer.start_span("continued", context=context_of(sampled_parent)).end()
    assert [span.name for span in exporter.get_finished_spans()] == ["continued"]


@pytest.mark.parametrize(
    "traceparent",
    [
        None,
        "",
        "garbage",
        "00-00000000000000000000000000000000-53995c3f42cd8ad8-01",  # the invalid trace id
        "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01-extra",
    ],
)
def test_a_message_without_a_usable_trace_context_starts_a_new_trace(
    traceparent: str | None,
) -> None:
    assert context_of(traceparent) is None


def test_the_context_a_span_hands_on_names_that_span() -> None:
    provider = build_provider(CommonSettings(), exporter=InMemorySpanExporter())
    assert provider is not None
    span = provider.get_tracer("test").start_span("publish")
    traceparent = current_traceparent(span)
    assert traceparent is not None
    context = context_of(traceparent)
    assert context is not None
    remote = trace.get_current_span(context).get_span_context()
    assert (remote.trace_id, remote.span_id) == (
        span.get_span_context().trace_id,
        span.get_span_context().span_id,
    )
    assert remote.trace_flags.sampled


def test_log_lines_written_inside_a_span_carry_its_trace_id() -> None:
    provider = build_provider(CommonSettings(), exporter=InMemorySpanExporter())
    assert provider is not None
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("todo-test"))
    logger = logging.getLogger("todo_test.tracing")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("outside")
        span = provider.get_tracer("test").start_span("work")
        with trace.use_span(span, end_on_exit=True):
            logger.warning("inside")
    finally:
        logger.removeHandler(handler)
    outside, inside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "trace_id" not in outside
    context = span.get_span_context()
    assert inside["trace_id"] == xray_trace_id(context.trace_id)
    assert inside["span_id"] == f"{context.span_id:016x}"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TRACING_EXPORTER", "jaeger"),
        ("TRACING_SAMPLE_RATIO", "1.5"),
        ("TRACING_ENDPOINT", "127.0.0.1:4318"),
    ],
)
def test_a_bad_tracing_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=f"invalid setting {variable}: "):
        load_settings(CommonSettings)


def test_shutdown_gives_a_silent_collector_a_bounded_time_then_drops_the_spans() -> None:
    """ECS kills a task 30 s after SIGTERM: the flush must not outlast the drain's margin, even
    when the collector accepts the connection and never answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        settings = CommonSettings(
            tracing_exporter="otlp", tracing_endpoint=f"http://127.0.0.1:{port}/v1/traces"
        )
        provider = build_provider(settings)
        assert provider is not None
        provider.get_tracer("test").start_span("last request").end()
        started = time.monotonic()
        shutdown_tracing(timeout=0.5, provider=provider)
        # The SDK alone would wait at least one export timeout, and retry.
        assert time.monotonic() - started < EXPORT_TIMEOUT_SECONDS
