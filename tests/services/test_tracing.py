"""One trace per change: the HTTP request, its outbox row, the SQS message and the worker's
activity write, joined by parent links (the in-memory exporter of tests/services/conftest.py)."""

from __future__ import annotations

import io
import itertools
import json
import logging

from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.support.databases import Database
from tests.support.worker import worker_on
from todo_api.relay import Relay
from todo_common.logs import JsonFormatter
from todo_common.tracing import xray_trace_id
from todo_common.uow import UnitOfWorkFactory
from todo_devstack.topology import Topology, sns_client


def _deliver(db: Database, endpoint: str, topology: Topology) -> None:
    """What the relay thread and the worker process do, once each."""
    relay = Relay(
        UnitOfWorkFactory(db.engine),
        sns_client(endpoint),
        topology.topic_arn,
    )
    assert relay.publish_once() == 1
    assert worker_on(db, endpoint, topology.queues["worker"].url).poll_once() == 1


def _trace(spans: InMemorySpanExporter, change: str) -> list[ReadableSpan]:
    """The spans of the trace holding ``change``'s outbox span, parents first."""
    finished = spans.get_finished_spans()
    [outbox] = [span for span in finished if span.name == f"{change} outbox"]
    trace_id = outbox.context.trace_id
    ours = [span for span in finished if span.context.trace_id == trace_id]
    by_id = {span.context.span_id: span for span in ours}
    [root] = [span for span in ours if span.parent is None]

    def depth(span: ReadableSpan) -> int:
        return 0 if span.parent is None else 1 + depth(by_id[span.parent.span_id])

    assert all(span.parent is None or span.parent.span_id in by_id for span in ours), ours
    assert root.kind is SpanKind.SERVER
    return sorted(ours, key=depth)


def _across_the_queue(request: str, change: str) -> list[tuple[str, SpanKind]]:
    """The chain of one change's trace: its request, outbox row, publication and processing."""
    return [
        (request, SpanKind.SERVER),
        (f"{change} outbox", SpanKind.INTERNAL),
        (f"{change} publish", SpanKind.PRODUCER),
        (f"{change} process", SpanKind.CONSUMER),
        ("activity write", SpanKind.INTERNAL),
    ]


def _chain(spans: list[ReadableSpan]) -> list[tuple[str, SpanKind]]:
    """(name, kind) from the root down; each span the parent of the next."""
    for parent, child in itertools.pairwise(spans):
        assert child.parent is not None
        assert child.parent.span_id == parent.context.span_id, (parent.name, child.name)
    return [(span.name, span.kind) for span in spans]


def test_a_create_is_one_trace_from_the_request_to_the_workers_write(
    client: TestClient,
    db: Database,
    sqs_endpoint: str,
    topology: Topology,
    spans: InMemorySpanExporter,
) -> None:
    todo = client.post("/api/todos", json={"text": "Buy milk"}).json()
    _deliver(db, sqs_endpoint, topology)

    trace = _trace(spans, "todo.created")
    assert _chain(trace) == _across_the_queue("POST /api/todos", "todo.created")
    server, outbox, publish, process, _write = trace
    assert server.attributes is not None and server.attributes["http.route"] == "/api/todos"
    assert server.attributes["http.response.status_code"] == 201
    assert outbox.attributes is not None and outbox.attributes["todo.id"] == todo["id"]
    event_id = outbox.attributes["messaging.message.id"]
    assert publish.attributes is not None
    assert publish.attributes["messaging.message.id"] == event_id
    assert process.attributes is not None
    assert process.attributes["messaging.destination.name"] == topology.queues["worker"].url


def test_a_completion_is_its_own_trace_across_the_queue(
    client: TestClient,
    db: Database,
    sqs_endpoint: str,
    topology: Topology,
    spans: InMemorySpanExporter,
) -> None:
    todo = client.post("/api/todos", json={"text": "Buy milk"}).json()
    _deliver(db, sqs_endpoint, topology)
    assert client.put(f"/api/todos/{todo['id']}", json={"completed": True}).status_code == 200
    _deliver(db, sqs_endpoint, topology)

    completed = _trace(spans, "todo.completed")
    assert _chain(completed) == _across_the_queue("PUT /api/todos/{todo_id}", "todo.completed")
    created = _trace(spans, "todo.created")
    assert created[0].context.trace_id != completed[0].context.trace_id


def test_the_access_line_of_a_traced_request_carries_its_trace_id(
    client: TestClient, spans: InMemorySpanExporter
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("todo-api"))
    access = logging.getLogger("todo_api.access")
    level = access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        assert client.get("/api/todos").status_code == 200
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    [server] = [span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER]
    assert line["message"] == "GET /api/todos 200"
    assert line["trace_id"] == xray_trace_id(server.context.trace_id)
    assert line["span_id"] == f"{server.context.span_id:016x}"


def test_a_client_cannot_choose_the_trace(client: TestClient, spans: InMemorySpanExporter) -> None:
    """A traceparent header would let anyone pick our trace ids and force sampling: ignored."""
    chosen = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
    assert client.get("/api/todos", headers={"traceparent": chosen}).status_code == 200
    [server] = [span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER]
    assert server.parent is None
    assert server.context.trace_id != 0x5759E988BD862E3FE1BE46A994272793


def test_the_liveness_probe_is_not_traced(client: TestClient, spans: InMemorySpanExporter) -> None:
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/ready").status_code == 200
    names = [span.name for span in spans.get_finished_spans()]
    assert names == ["GET /api/ready"]
