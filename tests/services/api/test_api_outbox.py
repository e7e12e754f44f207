"""Transactional outbox, the relay to the event topic (SNS, fanned out to the consumers' SQS
queues, all in moto) and GET /api/activity."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.support.databases import Database, make_database
from tests.support.issuer import USER, Issuer
from tests.support.problems import assert_problem
from todo_api.app import create_app
from todo_api.relay import Housekeeping, Relay, RelayError
from todo_common import todos
from todo_common.events import parse_event
from todo_common.models import Activity, OutboxEvent
from todo_common.uow import UnitOfWorkFactory
from todo_devstack.sqs import REGION, free_port
from todo_devstack.sqs import client as sqs_client
from todo_devstack.topology import Topology, sns_client


def outbox(db: Database) -> list[OutboxEvent]:
    with UnitOfWorkFactory(db.engine)() as uow:
        statement = select(OutboxEvent).order_by(OutboxEvent.occurred_at, OutboxEvent.type)
        return list(uow.session.scalars(statement))


def drain(endpoint: str, queue_url: str, expected: int, timeout: float = 10) -> list[str]:
    """Receive (and delete) until ``expected`` bodies arrived and the queue looks empty."""
    sqs = sqs_client(endpoint)
    bodies: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if not messages and len(bodies) >= expected:
            break
        if not messages:
            time.sleep(0.1)
    return bodies


def factory(db: Database) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(db.engine)


def test_every_change_records_one_event_in_its_transaction(
    client: TestClient, db: Database
) -> None:
    todo = client.post("/api/todos", json={"text": "Buy milk"}).json()
    path = f"/api/todos/{todo['id']}"
    assert client.put(path, json={"text": "Buy oat milk"}).status_code == 200
    assert client.put(path, json={"completed": True}).status_code == 200
    assert client.put(path, json={"completed": False}).status_code == 200
    assert client.delete(path).status_code == 204

    rows = outbox(db)
    assert [row.type for row in rows] == [
        "todo.created",
        "todo.updated",
        "todo.completed",
        "todo.updated",
        "todo.deleted",
    ]
    assert len({row.id for row in rows}) == 5
    texts = [parse_event(row.body).text for row in rows]
    assert texts == ["Buy milk", "Buy oat milk", "Buy oat milk", "Buy oat milk", "Buy oat milk"]
    for row in rows:
        event = parse_event(row.body)
        assert event.event_id == row.id
        assert str(event.todo_id) == todo["id"]
        assert event.schema_version == 1
        assert row.sent_at is None
        body = json.loads(row.body)
        assert set(body) == {"eventId", "type", "todoId", "occurredAt", "schemaVersion", "text"}
        assert body["occurredAt"].endswith("Z")
        assert len(body["occurredAt"]) == len("2026-01-31T12:00:00.000Z")


def test_a_rejected_or_rolled_back_change_records_no_event(
    client: TestClient, db: Database
) -> None:
    missing = f"/api/todos/{uuid.uuid4()}"
    assert client.put(missing, json={"completed": True}).status_code == 404
    assert client.delete(missing).status_code == 404
    assert client.post("/api/todos", json={"text": "  "}).status_code == 422
    with factory(db)(write=True) as uow:
        todos.create_todo(uow, "never committed", owner=USER)
    assert outbox(db) == []
    assert db.count() == 0


def test_relay_publishes_each_event_once_to_the_topic_and_marks_it_sent(
    db: Database, sqs_endpoint: str, topology: Topology
) -> None:
    uows = factory(db)
    for number in range(12):
        with uows(write=True) as uow:
            todos.create_todo(uow, f"todo {number}", owner=USER)
            uow.commit()
    relay = Relay(uows, sns_client(sqs_endpoint), topology.topic_arn, batch_size=10)
    assert relay.publish_once() == 10
    assert relay.publish_once() == 2
    assert relay.publish_once() == 0
    assert all(row.sent_at is not None for row in outbox(db))
    # Raw delivery: the consumer's message body is the event JSON itself, no SNS envelope.
    bodies = drain(sqs_endpoint, topology.queues["worker"].url, 12)
    assert sorted(bodies) == sorted(row.body for row in outbox(db))


def test_each_consumer_receives_only_the_event_types_its_filter_lets_through(
    client: TestClient, db: Database, sqs_endpoint: str, topology: Topology
) -> None:
    todo = client.post("/api/todos", json={"text": "Buy milk"}).json()
    path = f"/api/todos/{todo['id']}"
    assert client.put(path, json={"completed": True}).status_code == 200
    assert client.delete(path).status_code == 204
    relay = Relay(factory(db), sns_client(sqs_endpoint), topology.topic_arn)
    assert relay.publish_once() == 3

    rows = {row.type: row.body for row in outbox(db)}
    everything = drain(sqs_endpoint, topology.queues["worker"].url, 3)
    assert sorted(everything) == sorted(rows.values())
    # The archiver subscribed for deletions only: one message, the deletion's body.
    assert drain(sqs_endpoint, topology.queues["archiver"].url, 1) == [rows["todo.deleted"]]


def test_events_sns_refuses_stay_pending_and_the_pass_reports_them(
    db: Database, sqs_endpoint: str, topology: Topology
) -> None:
    uows = factory(db)
    for number in range(2):
        with uows(write=True) as uow:
            todos.create_todo(uow, f"todo {number}", owner=USER)
            uow.commit()
    accepted, refused = outbox(db)
    with uows(write=True) as uow:
        # Over SNS's 256 KiB message limit: SNS fails that entry and accepts the other.
        row = uow.session.get(OutboxEvent, refused.id)
        assert row is not None
        row.body = json.dumps({"pad": "x" * 300_000})
        uow.commit()
    relay = Relay(uows, sns_client(sqs_endpoint), topology.topic_arn)

    with pytest.raises(RelayError, match=r"^1 of 2 events refused by SNS$"):
        relay.publish_once()
    sent = {row.id: row.sent_at for row in outbox(db)}
    assert sent[refused.id] is None
    assert sent[accepted.id] is not None
    assert drain(sqs_endpoint, topology.queues["worker"].url, 1) == [accepted.body]
    # The next pass retries only the refused one (and SNS refuses it again).
    with pytest.raises(RelayError, match=r"^1 of 1 events refused by SNS$"):
        relay.publish_once()


def test_the_relay_runs_when_an_event_topic_is_set_not_for_a_queue(db: Database) -> None:
    queue_only = db.settings.model_copy(update={"queue_url": "http://127.0.0.1:1/0/q"})
    assert create_app(queue_only, db.engine).state.relay is None
    arn = "arn:aws:sns:eu-west-1:123456789012:todo-events"
    topic = db.settings.model_copy(update={"events_topic_arn": arn})
    relay = create_app(topic, db.engine).state.relay
    assert relay is not None
    assert relay.topic_arn == arn
    assert relay.housekeeping_policy.service_name == "todo-api"


class FlakySns:
    """The real client, but unreachable until ``up`` is set."""

    def __init__(self, real: Any, dead: Any) -> None:
        self.real = real
        self.dead = dead
        self.up = threading.Event()
        self.calls = 0

    def publish_batch(self, **kwargs: Any) -> Any:
        self.calls += 1
        return (self.real if self.up.is_set() else self.dead).publish_batch(**kwargs)


def test_sns_down_then_up_loses_nothing_and_duplicates_nothing(
    db: Database, sqs_endpoint: str, topology: Topology, issuer: Issuer
) -> None:
    dead = sns_client(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    flaky = FlakySns(sns_client(sqs_endpoint), dead)
    settings = db.settings.model_copy(
        update={
            "events_topic_arn": topology.topic_arn,
            "sns_endpoint_url": sqs_endpoint,
            "aws_region": REGION,
            "relay_poll_interval_seconds": 0.05,
        }
    )
    app = create_app(settings, db.engine)
    relay: Relay = app.state.relay
    relay.client = flaky
    relay.max_backoff = 0.05
    with TestClient(app, raise_server_exceptions=False, headers=issuer.headers(USER)) as client:
        # While SNS is down, the API keeps working and the events pile up.
        ids = [client.post("/api/todos", json={"text": f"t{n}"}).json()["id"] for n in range(3)]
        assert client.put(f"/api/todos/{ids[0]}", json={"completed": True}).status_code == 200
        deadline = time.monotonic() + 10
        while relay.failures < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert relay.failures >= 2
        assert all(row.sent_at is None for row in outbox(db))
        with pytest.raises(EndpointConnectionError):
            dead.publish_batch(
                TopicArn=topology.topic_arn,
                PublishBatchRequestEntries=[{"Id": "0", "Message": "x"}],
            )

        flaky.up.set()
        deadline = time.monotonic() + 10
        while any(row.sent_at is None for row in outbox(db)) and time.monotonic() < deadline:
            time.sleep(0.05)
    rows = outbox(db)
    assert len(rows) == 4
    assert all(row.sent_at is not None for row in rows)
    bodies = drain(sqs_endpoint, topology.queues["worker"].url, 4)
    assert sorted(bodies) == sorted(row.body for row in rows)
    assert relay.failures == 0


def test_backoff_grows_with_failures_and_is_capped() -> None:
    relay = Relay(
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        "arn:aws:sns:us-east-1:123456789012:t",
        max_backoff=5,
        rng=lambda _low, high: high,
    )
    ceilings = []
    for failures in range(6):
        relay.failures = failures
        ceilings.append(relay.backoff())
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 5, 5]


@pytest.mark.postgres
def test_concurrent_relays_claim_disjoint_events(
    request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    db = make_database("postgres", tmp_path, request)
    try:
        uows = factory(db)
        for number in range(2):
            with uows(write=True) as uow:
                todos.create_todo(uow, f"todo {number}", owner=USER)
                uow.commit()
        with uows(write=True) as first, uows(write=True) as second:
            mine = first.outbox.claim_pending(1)
            theirs = second.outbox.claim_pending(10)
            assert len(mine) == 1
            assert [row.id for row in theirs] != [] and mine[0].id not in {r.id for r in theirs}
    finally:
        db.engine.dispose()


def add_activity(db: Database, count: int) -> list[Activity]:
    base = datetime(2026, 1, 31, 12, tzinfo=UTC)
    rows = [
        Activity(
            event_id=uuid.uuid4(),
            type="todo.completed",
            todo_id=uuid.uuid4(),
            text=f"item {n}",
            occurred_at=base + timedelta(seconds=n),
            processed_at=base + timedelta(seconds=n, milliseconds=250),
            owner_id=USER,
        )
        for n in range(count)
    ]
    with factory(db)(write=True) as uow:
        for row in rows:
            uow.activity.add(row)
        uow.commit()
    return rows


def test_activity_lists_newest_first_with_link_pagination(client: TestClient, db: Database) -> None:
    rows = add_activity(db, 5)
    first = client.get("/api/activity?limit=3")
    assert first.status_code == 200
    assert [item["text"] for item in first.json()] == ["item 4", "item 3", "item 2"]
    item = first.json()[0]
    assert item == {
        "eventId": str(rows[4].event_id),
        "type": "todo.completed",
        "todoId": str(rows[4].todo_id),
        "text": "item 4",
        "occurredAt": "2026-01-31T12:00:04.000Z",
        "processedAt": "2026-01-31T12:00:04.250Z",
    }
    link = first.headers["link"]
    assert link.startswith("</api/activity?limit=3&cursor=")
    assert link.endswith('>; rel="next"')
    second = client.get(link[1 : link.index(">")])
    assert [item["text"] for item in second.json()] == ["item 1", "item 0"]
    assert "link" not in second.headers
    assert client.get("/api/activity").json()[0]["text"] == "item 4"


def test_activity_bad_input_is_a_problem_not_a_500(client: TestClient) -> None:
    assert_problem(client.get("/api/activity?cursor=nope"), 400, field="cursor")
    assert_problem(client.get("/api/activity?limit=0"), 422, field="limit")
    assert_problem(client.get("/api/activity?limit=101"), 422, field="limit")
    assert client.get("/api/activity").json() == []


def test_housekeeping_forgets_only_old_published_events_and_reports_the_backlog(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    uows = factory(db)
    for number in range(4):
        with uows(write=True) as uow:
            todos.create_todo(uow, f"todo {number}", owner=USER)
            uow.commit()
    old, recent, pending = outbox(db)[:2], outbox(db)[2], outbox(db)[3]
    now = datetime.now(UTC) + timedelta(minutes=10)
    with uows(write=True) as uow:
        uow.outbox.mark_sent([row.id for row in old], now - timedelta(days=8))
        uow.outbox.mark_sent([recent.id], now - timedelta(days=1))
        uow.commit()
    unreachable = sns_client(f"http://127.0.0.1:{free_port()}")  # housekeeping never calls SNS
    relay = Relay(
        uows,
        unreachable,
        "unused",
        housekeeping=Housekeeping(metrics_namespace="t/x", service_name="todo-x"),
    )

    with caplog.at_level("INFO", logger="todo_api.relay"):
        status = relay.housekeeping(now)
    assert (status.pruned, status.pending) == (2, 1)
    assert 600 <= status.oldest_pending_age_seconds < 660
    assert {row.id for row in outbox(db)} == {recent.id, pending.id}
    (record,) = [r for r in caplog.records if r.getMessage() == "outbox status"]
    emf = record.__dict__["_aws"]["CloudWatchMetrics"][0]
    assert (emf["Namespace"], emf["Dimensions"]) == ("t/x", [["Service"]])
    # The dimension is the service's SERVICE_NAME, which the infra's alarm computes too.
    assert record.__dict__["Service"] == "todo-x"
    assert record.__dict__["OutboxPending"] == 1
    assert record.__dict__["OutboxPruned"] == 2

    # Nothing left to forget; once published, no backlog either.
    with uows(write=True) as uow:
        uow.outbox.mark_sent([pending.id], now)
        uow.commit()
    again = relay.housekeeping(now)
    assert (again.pruned, again.pending, again.oldest_pending_age_seconds) == (0, 0, 0.0)
    assert len(outbox(db)) == 2


def test_housekeeping_runs_at_most_once_per_interval(db: Database) -> None:
    ticks = iter([0.0, 0.0, 30.0, 61.0])  # construction, then one tick per call
    relay = Relay(
        factory(db),
        sns_client(f"http://127.0.0.1:{free_port()}"),
        "unused",
        housekeeping=Housekeeping(interval_seconds=60),
        clock=lambda: next(ticks),
    )
    assert relay.housekeeping_if_due() is not None  # the first pass
    assert relay.housekeeping_if_due() is None  # 30 s later
    assert relay.housekeeping_if_due() is not None  # 61 s after the first
