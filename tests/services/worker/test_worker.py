"""The queue worker against the local SQS endpoint (moto) and the real databases."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import create_engine, select, text, update

from config.paths import ROOT
from tests.support.databases import Database, make_database
from tests.support.issuer import USER
from tests.support.worker import worker_on, worker_settings
from todo_api.relay import Relay
from todo_api.settings import ApiSettings
from todo_common import todos
from todo_common.migrate import LOCK_KEY
from todo_common.models import Activity, OutboxEvent
from todo_common.uow import UnitOfWork, UnitOfWorkFactory
from todo_devstack.sqs import REGION, Queues
from todo_devstack.sqs import client as sqs_client
from todo_devstack.topology import Topology, sns_client
from todo_worker.health import check
from todo_worker.settings import WorkerSettings
from todo_worker.worker import Worker

PYTHONPATH = os.pathsep.join(
    str(ROOT / part) for part in ("services/common", "services/api", "services/worker")
)


def make_worker(db: Database, endpoint: str, queues: Queues) -> Worker:
    return worker_on(db, endpoint, queues.url)


def activity(db: Database) -> list[Activity]:
    with UnitOfWorkFactory(db.engine)() as uow:
        return list(uow.session.scalars(select(Activity).order_by(Activity.occurred_at)))


def queue_depth(endpoint: str, url: str) -> int:
    attributes = sqs_client(endpoint).get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def until(
    condition: Callable[[], bool], timeout: float = 15, step: Callable[[], Any] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        if step is not None:
            step()
        else:
            time.sleep(0.05)


def event_body(**overrides: Any) -> str:
    body = {
        "eventId": str(uuid.uuid4()),
        "type": "todo.completed",
        "todoId": str(uuid.uuid4()),
        "occurredAt": "2026-01-31T12:00:00.000Z",
        "schemaVersion": 1,
        "text": "Buy milk",
        **overrides,
    }
    return json.dumps(body)


class CountingUnitsOfWork(UnitOfWorkFactory):
    """The worker's factory, counting the write transactions it opens."""

    writes = 0

    def __call__(self, *, write: bool = False) -> UnitOfWork:
        self.writes += write
        return super().__call__(write=write)


def counting_worker(db: Database, endpoint: str, queues: Queues, **extra: Any) -> Worker:
    settings = worker_settings(db, endpoint, queues.url, **extra)
    uows = CountingUnitsOfWork(db.engine)
    return Worker(uows, sqs_client(endpoint), settings)


def sqs_calls(worker: Worker) -> list[str]:
    """The names of the SQS operations ``worker`` calls from now on, in order."""
    calls: list[str] = []

    def record(**kwargs: Any) -> None:
        calls.append(kwargs["model"].name)

    worker.client.meta.events.register("before-call.sqs", record)
    return calls


def send_batch(endpoint: str, url: str, bodies: list[str]) -> None:
    entries = [
        {"Id": str(index), "MessageBody": body, "MessageAttributes": _owner(USER)}
        for index, body in enumerate(bodies)
    ]
    response = sqs_client(endpoint).send_message_batch(QueueUrl=url, Entries=entries)  # type: ignore[arg-type]
    assert not response.get("Failed"), response


def test_a_duplicate_delivery_has_one_effect(
    db: Database, sqs_endpoint: str, queues: Queues
) -> None:
    sqs = sqs_client(sqs_endpoint)
    body = event_body()
    sqs.send_message(QueueUrl=queues.url, MessageBody=body)
    sqs.send_message(QueueUrl=queues.url, MessageBody=body)
    worker = make_worker(db, sqs_endpoint, queues)
    until(lambda: queue_depth(sqs_endpoint, queues.url) == 0, step=worker.poll_once)

    rows = activity(db)
    assert len(rows) == 1
    expected = json.loads(body)
    assert str(rows[0].event_id) == expected["eventId"]
    assert str(rows[0].todo_id) == expected["todoId"]
    assert (rows[0].type, rows[0].text) == ("todo.completed", "Buy milk")
    assert queue_depth(sqs_endpoint, queues.dlq_url) == 0
    assert worker.settings.worker_heartbeat_file.exists()


POISON = [
    ("not json at all", "body: Invalid JSON"),
    (event_body(type="todo.exploded"), "type: Input should be"),
    (event_body(schemaVersion=2), "schemaVersion"),
    (event_body(occurredAt="2026-01-31T12:00:00"), "occurredAt: must carry a time zone"),
]


def test_poison_messages_reach_the_dlq_and_the_log_says_why(
    db: Database, sqs_endpoint: str, queues: Queues, caplog: pytest.LogCaptureFixture
) -> None:
    sqs = sqs_client(sqs_endpoint)
    for body, _reason in POISON:
        sqs.send_message(QueueUrl=queues.url, MessageBody=body)
    good = event_body()
    sqs.send_message(QueueUrl=queues.url, MessageBody=good)
    worker = make_worker(db, sqs_endpoint, queues)
    with caplog.at_level(logging.ERROR, logger="todo_worker"):
        until(
            lambda: queue_depth(sqs_endpoint, queues.dlq_url) == len(POISON),
            step=worker.poll_once,
        )
        until(lambda: queue_depth(sqs_endpoint, queues.url) == 0, step=worker.poll_once)
    dead: list[str] = []
    while len(dead) < len(POISON):
        got = sqs.receive_message(QueueUrl=queues.dlq_url, MaxNumberOfMessages=10)
        dead += [message["Body"] for message in got.get("Messages", [])]
    assert sorted(dead) == sorted(body for body, _ in POISON)
    # Refused on each of the maxReceiveCount (2) receives, never deleted.
    failures = [r.getMessage() for r in caplog.records if "unparseable" in r.getMessage()]
    assert len(failures) == 2 * len(POISON)
    for _body, reason in POISON:
        assert sum(reason in message for message in failures) == 2, (reason, failures)
    assert [str(row.event_id) for row in activity(db)] == [json.loads(good)["eventId"]]


def _owner(value: str, data_type: str = "String") -> dict[str, Any]:
    return {"ownerId": {"DataType": data_type, "StringValue": value}}


def test_the_owner_comes_from_the_message_attribute_and_a_bad_one_is_refused(
    db: Database, sqs_endpoint: str, queues: Queues
) -> None:
    """The previous release publishes no ownerId: its events are recorded with no owner. An
    ownerId that is not a user id never becomes an activity row."""
    sqs = sqs_client(sqs_endpoint)
    owned, unowned = event_body(text="owned"), event_body(text="from the previous release")
    sqs.send_message(QueueUrl=queues.url, MessageBody=owned, MessageAttributes=_owner(USER))
    sqs.send_message(QueueUrl=queues.url, MessageBody=unowned)
    for bad in (_owner("x" * 129), _owner("42", data_type="Number")):
        sqs.send_message(QueueUrl=queues.url, MessageBody=event_body(), MessageAttributes=bad)
    worker = make_worker(db, sqs_endpoint, queues)
    until(lambda: queue_depth(sqs_endpoint, queues.dlq_url) == 2, step=worker.poll_once)
    until(lambda: queue_depth(sqs_endpoint, queues.url) == 0, step=worker.poll_once)
    assert sorted((row.text, row.owner_id) for row in activity(db)) == [
        ("from the previous release", None),
        ("owned", USER),
    ]


def test_a_database_failure_retries_then_dead_letters(
    tmp_path: Path, sqs_endpoint: str, queues: Queues, caplog: pytest.LogCaptureFixture
) -> None:
    sqs_client(sqs_endpoint).send_message(QueueUrl=queues.url, MessageBody=event_body())
    settings = worker_settings(
        Database("sqlite", ApiSettings(data_dir=tmp_path), None),  # type: ignore[arg-type]
        sqs_endpoint,
        queues.url,
    )
    worker = Worker(None, sqs_client(sqs_endpoint), settings)  # type: ignore[arg-type]
    # The database stops answering (nothing listens on port 1).
    unreachable = create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    worker.uow_factory = UnitOfWorkFactory(unreachable)
    with caplog.at_level(logging.ERROR, logger="todo_worker"):
        until(lambda: queue_depth(sqs_endpoint, queues.dlq_url) == 1, step=worker.poll_once)
    assert any("will be retried, then dead-lettered" in r.getMessage() for r in caplog.records)
    assert queue_depth(sqs_endpoint, queues.url) == 0


def test_relay_republishing_duplicates_nothing_in_effect(
    db: Database, sqs_endpoint: str, topology: Topology
) -> None:
    uows = UnitOfWorkFactory(db.engine)
    for name in ("a", "b", "c"):
        with uows(write=True) as uow:
            todos.create_todo(uow, name, owner=USER)
            uow.commit()
    relay = Relay(uows, sns_client(sqs_endpoint), topology.topic_arn)
    queues = topology.queues["worker"]  # subscribed to the topic, as in AWS
    assert relay.publish_once() == 3
    # A relay that crashed after SNS accepted but before its commit publishes again.
    with db.engine.begin() as conn:
        conn.execute(update(OutboxEvent).values(sent_at=None))
    assert relay.publish_once() == 3
    worker = make_worker(db, sqs_endpoint, queues)
    until(lambda: queue_depth(sqs_endpoint, queues.url) == 0, step=worker.poll_once)
    assert sorted(row.text or "" for row in activity(db)) == ["a", "b", "c"]
    # The owner travelled beside the body: outbox row, SNS message attribute, SQS, activity row.
    assert {row.owner_id for row in activity(db)} == {USER}


def test_health_check_reads_the_heartbeat(tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    assert check(beat, 60) is not None
    beat.touch()
    assert check(beat, 60) is None
    stale = check(beat, 60, now=time.time() + 120)
    assert stale is not None
    assert "old" in stale
    env = {**os.environ, "PYTHONPATH": PYTHONPATH, "WORKER_HEARTBEAT_FILE": str(beat)}
    ok = subprocess.run([sys.executable, "-m", "todo_worker.health"], env=env, check=False)
    assert ok.returncode == 0
    env["WORKER_HEARTBEAT_FILE"] = str(tmp_path / "missing")
    bad = subprocess.run(
        [sys.executable, "-m", "todo_worker.health"], env=env, check=False, capture_output=True
    )
    assert bad.returncode == 1
    assert b"no heartbeat" in bad.stderr


def test_the_health_check_imports_only_the_standard_library(tmp_path: Path) -> None:
    # ECS kills a task whose check overruns its timeout; on a quarter vCPU, importing the
    # settings (pydantic) alone costs about a second.
    beat = tmp_path / "beat"
    beat.touch()
    probe = (
        "import runpy, sys\n"
        "try:\n"
        "    runpy.run_module('todo_worker.health', run_name='__main__')\n"
        "except SystemExit as done:\n"
        "    heavy = sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'todo_common',"
        " 'boto3', 'sqlalchemy'})\n"
        "    print(done.code, heavy)\n"
    )
    env = {**os.environ, "PYTHONPATH": PYTHONPATH, "WORKER_HEARTBEAT_FILE": str(beat)}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, check=False, capture_output=True, text=True
    )
    assert result.stdout.strip() == "0 []", result.stderr


def test_a_missing_queue_url_is_one_line_naming_it() -> None:
    env = {k: v for k, v in os.environ.items() if k.upper() != "QUEUE_URL"}
    env["PYTHONPATH"] = PYTHONPATH
    result = subprocess.run(
        [sys.executable, "-m", "todo_worker"], env=env, check=False, capture_output=True, timeout=30
    )
    assert result.returncode == 2
    assert result.stderr.decode().strip().splitlines() == [
        "invalid setting QUEUE_URL: Field required"
    ]


@pytest.mark.postgres
def test_sigterm_mid_message_finishes_it_and_exits_0(
    request: pytest.FixtureRequest, tmp_path: Path, sqs_endpoint: str, queues: Queues
) -> None:
    db = make_database("postgres", tmp_path, request)
    name = f"todo-worker-{uuid.uuid4().hex[:8]}"
    settings = worker_settings(db, sqs_endpoint, queues.url)
    env = {
        **os.environ,
        "PYTHONPATH": PYTHONPATH,
        "DATABASE_URL": str(settings.database_url),
        "DATABASE_SCHEMA": str(settings.database_schema),
        "QUEUE_URL": queues.url,
        "SQS_ENDPOINT_URL": sqs_endpoint,
        "AWS_REGION": REGION,
        "SERVICE_NAME": name,
        "WORKER_WAIT_TIME_SECONDS": "1",
        "WORKER_SHUTDOWN_TIMEOUT_SECONDS": "15",
        "WORKER_HEARTBEAT_FILE": str(tmp_path / "beat"),
    }
    body = event_body()
    try:
        with db.engine.connect() as blocker:
            # Hold the activity table: the worker's transaction waits on it,
            # so SIGTERM arrives with the message in hand.
            blocker.execute(text("LOCK TABLE activity IN ACCESS EXCLUSIVE MODE"))
            process = subprocess.Popen(
                [sys.executable, "-m", "todo_worker"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            try:
                sqs_client(sqs_endpoint).send_message(QueueUrl=queues.url, MessageBody=body)

                def waiting() -> bool:
                    query = text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE application_name = :name AND wait_event_type = 'Lock' "
                        # A table lock, not the migration lock another test may hold.
                        "AND wait_event = 'relation'"
                    )
                    with db.engine.connect() as conn:
                        return bool(conn.execute(query, {"name": name}).scalar_one())

                until(waiting, timeout=30)
                process.send_signal(signal.SIGTERM)
                time.sleep(1.0)
                assert process.poll() is None, "exited with the message in hand"
                blocker.rollback()  # release the lock: the worker may finish
                code = process.wait(timeout=15)
            finally:
                if process.poll() is None:
                    process.kill()
                output = process.communicate(timeout=10)[0].decode()
        assert code == 0, output
        assert [str(row.event_id) for row in activity(db)] == [json.loads(body)["eventId"]]
        assert queue_depth(sqs_endpoint, queues.url) == 0
        assert "stopping on SIGTERM" in output
        assert "worker stopped" in output
    finally:
        db.engine.dispose()


@pytest.mark.postgres
def test_sigterm_during_start_up_still_exits_0(
    request: pytest.FixtureRequest, tmp_path: Path, sqs_endpoint: str, queues: Queues
) -> None:
    db = make_database("postgres", tmp_path, request)
    name = f"todo-worker-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "PYTHONPATH": PYTHONPATH,
        "DATABASE_URL": str(db.settings.database_url),
        "DATABASE_SCHEMA": str(db.settings.database_schema),
        "QUEUE_URL": queues.url,
        "SQS_ENDPOINT_URL": sqs_endpoint,
        "AWS_REGION": REGION,
        "SERVICE_NAME": name,
        "WORKER_WAIT_TIME_SECONDS": "1",
        "WORKER_HEARTBEAT_FILE": str(tmp_path / "beat"),
    }
    try:
        with db.engine.connect() as blocker:
            # Hold the migration lock: the worker's start-up waits on it.
            blocker.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
            process = subprocess.Popen(
                [sys.executable, "-m", "todo_worker"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            try:
                query = text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = :name AND wait_event_type = 'Lock' "
                    "AND wait_event = 'advisory'"
                )

                def migrating() -> bool:
                    with db.engine.connect() as conn:
                        return bool(conn.execute(query, {"name": name}).scalar_one())

                until(migrating, timeout=30)
                process.send_signal(signal.SIGTERM)
                time.sleep(0.5)
                assert process.poll() is None
            finally:
                blocker.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                blocker.commit()
            output = process.communicate(timeout=30)[0].decode()
        assert process.returncode == 0, output
        assert "stopping on SIGTERM" in output
        assert "worker stopped" in output
    finally:
        db.engine.dispose()


# ------------------------------------------------------------------ the batch path
def test_a_receive_is_recorded_in_one_transaction_and_deleted_with_one_call(
    db: Database, sqs_endpoint: str, queues: Queues, caplog: pytest.LogCaptureFixture
) -> None:
    bodies = [event_body(text=f"todo {index}") for index in range(10)]
    send_batch(sqs_endpoint, queues.url, bodies)
    worker = counting_worker(db, sqs_endpoint, queues)
    calls = sqs_calls(worker)

    with caplog.at_level(logging.INFO, logger="todo_worker"):
        assert worker.poll_once() == 10

    assert sorted(row.text or "" for row in activity(db)) == sorted(
        json.loads(body)["text"] for body in bodies
    )
    assert {row.owner_id for row in activity(db)} == {USER}
    assert isinstance(worker.uow_factory, CountingUnitsOfWork)
    assert worker.uow_factory.writes == 1
    assert calls == ["ReceiveMessage", "DeleteMessageBatch"]
    assert queue_depth(sqs_endpoint, queues.url) == 0
    recorded = [r for r in caplog.records if r.getMessage().startswith("recorded ")]
    assert len(recorded) == 10


def test_duplicates_in_a_batch_and_of_recorded_events_change_nothing(
    db: Database, sqs_endpoint: str, queues: Queues, caplog: pytest.LogCaptureFixture
) -> None:
    old, twice, new = event_body(text="old"), event_body(text="twice"), event_body(text="new")
    send_batch(sqs_endpoint, queues.url, [old])
    make_worker(db, sqs_endpoint, queues).poll_once()
    [first] = activity(db)

    send_batch(sqs_endpoint, queues.url, [old, twice, new, twice])
    worker = counting_worker(db, sqs_endpoint, queues)
    with caplog.at_level(logging.INFO, logger="todo_worker"):
        assert worker.poll_once() == 4

    rows = {row.text or "": row for row in activity(db)}
    assert sorted(rows) == ["new", "old", "twice"]
    # The event recorded before is left as it was, not written again.
    assert rows["old"].processed_at == first.processed_at
    assert isinstance(worker.uow_factory, CountingUnitsOfWork)
    assert worker.uow_factory.writes == 1
    assert queue_depth(sqs_endpoint, queues.url) == 0
    outcomes = sorted(
        (r.getMessage().split()[0], r.__dict__["event_id"])
        for r in caplog.records
        if r.getMessage().startswith(("recorded ", "duplicate "))
    )
    ids = {name: json.loads(body)["eventId"] for name, body in (("old", old), ("twice", twice))}
    assert outcomes == sorted(
        [
            ("duplicate", ids["old"]),
            ("duplicate", ids["twice"]),
            ("recorded", ids["twice"]),
            ("recorded", json.loads(new)["eventId"]),
        ]
    )


@pytest.mark.postgres
def test_a_message_failing_in_a_batch_does_not_hold_back_the_others(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqs_endpoint: str,
    queues: Queues,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PostgreSQL refuses a NUL character in text: the batch's transaction fails on that one
    row, and the others are recorded one by one; the bad one is retried, then dead-lettered."""
    db = make_database("postgres", tmp_path, request)
    good = [event_body(text=f"good {index}") for index in range(5)]
    bad = event_body(text="nul \u0000 inside")
    send_batch(sqs_endpoint, queues.url, [*good[:2], bad, *good[2:]])
    worker = counting_worker(db, sqs_endpoint, queues)
    calls = sqs_calls(worker)
    try:
        with caplog.at_level(logging.WARNING, logger="todo_worker"):
            assert worker.poll_once() == 5
            assert sorted(row.text or "" for row in activity(db)) == [f"good {i}" for i in range(5)]
            # The good ones went with one DeleteMessageBatch; the bad one was made visible again.
            assert calls.count("DeleteMessageBatch") == 1
            assert calls.count("ChangeMessageVisibility") == 1
            assert "DeleteMessage" not in calls
            until(lambda: queue_depth(sqs_endpoint, queues.dlq_url) == 1, step=worker.poll_once)
        assert queue_depth(sqs_endpoint, queues.url) == 0
        assert any("recording it one by one" in r.getMessage() for r in caplog.records)
        failed = [
            r for r in caplog.records if "will be retried, then dead-lettered" in r.getMessage()
        ]
        assert {r.__dict__["event_id"] for r in failed} == {json.loads(bad)["eventId"]}
        dead = sqs_client(sqs_endpoint).receive_message(QueueUrl=queues.dlq_url)["Messages"]
        assert [message["Body"] for message in dead] == [bad]
    finally:
        db.engine.dispose()


def test_a_database_outage_fails_the_batch_without_retrying_it_one_by_one(
    tmp_path: Path, sqs_endpoint: str, queues: Queues, caplog: pytest.LogCaptureFixture
) -> None:
    send_batch(sqs_endpoint, queues.url, [event_body() for _ in range(3)])
    settings = worker_settings(
        Database("sqlite", ApiSettings(data_dir=tmp_path), None),  # type: ignore[arg-type]
        sqs_endpoint,
        queues.url,
    )
    unreachable = create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    uows = CountingUnitsOfWork(unreachable)
    worker = Worker(uows, sqs_client(sqs_endpoint), settings)
    with caplog.at_level(logging.WARNING, logger="todo_worker"):
        done = worker.poll_once()
    # One attempt for the batch, then every message is retried later: none deleted.
    assert uows.writes == 1
    assert done == 0
    assert not any("one by one" in r.getMessage() for r in caplog.records)
    failed = [r for r in caplog.records if "will be retried, then dead-lettered" in r.getMessage()]
    assert len(failed) == 3
    assert queue_depth(sqs_endpoint, queues.url) == 3


def test_a_message_the_batch_delete_refuses_is_redelivered_as_a_harmless_duplicate(
    db: Database, sqs_endpoint: str, queues: Queues, caplog: pytest.LogCaptureFixture
) -> None:
    bodies = [event_body(text=f"todo {index}") for index in range(4)]
    send_batch(sqs_endpoint, queues.url, bodies)
    worker = counting_worker(db, sqs_endpoint, queues, worker_visibility_timeout_seconds=1)
    spoiled: list[str] = []

    def spoil_first_handle(params: dict[str, Any], **_kwargs: Any) -> None:
        # SQS refuses that one entry (ReceiptHandleIsInvalid) and deletes the others.
        if not spoiled:
            entry = params["Entries"][0]
            spoiled.append(entry["Id"])
            entry["ReceiptHandle"] = "not-a-receipt-handle"

    worker.client.meta.events.register(
        "before-parameter-build.sqs.DeleteMessageBatch", spoil_first_handle
    )
    with caplog.at_level(logging.INFO, logger="todo_worker"):
        assert worker.poll_once() == 4
        assert spoiled
        assert queue_depth(sqs_endpoint, queues.url) == 1
        # Visible again after the visibility timeout: recorded already, so only deleted.
        until(lambda: queue_depth(sqs_endpoint, queues.url) == 0, step=worker.poll_once)
    assert len(activity(db)) == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "could not delete message" in warnings[0]
    assert "ReceiptHandleIsInvalid" in warnings[0]
    duplicates = [r for r in caplog.records if r.getMessage().startswith("duplicate ")]
    assert len(duplicates) == 1


def test_more_receive_loops_than_database_connections_is_refused() -> None:
    with pytest.raises(ValidationError, match="more receive loops than database connections"):
        WorkerSettings.model_validate(
            {"queue_url": "https://sqs.us-east-1.amazonaws.com/1/q", "worker_concurrency": 11}
        )
    settings = WorkerSettings.model_validate(
        {
            "queue_url": "https://sqs.us-east-1.amazonaws.com/1/q",
            "worker_concurrency": 11,
            "database_max_overflow": 1,
        }
    )
    assert settings.worker_concurrency == 11
