"""bench.worker_load: its moto server keeps the queue semantics the worker relies on, and its
table reads as the drains compare."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bench.worker_load import (
    BENCH_USER,
    QUEUE_ALONE,
    WORKER,
    Drain,
    backlog_entries,
    enqueue,
    print_table,
    queue_depth,
    start_patched_moto,
)
from todo_common.events import OWNER_ATTRIBUTE, parse_event
from todo_devstack.sqs import client, create_queues, free_port, start_moto


@pytest.fixture(scope="module", params=["stock", "patched"])
def moto_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """moto's server, as released and as the benchmark patches it: the two must agree."""
    port = free_port()
    process = start_moto(port) if request.param == "stock" else start_patched_moto(port)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def test_the_patched_moto_keeps_the_queue_semantics_the_worker_relies_on(
    moto_server: str,
) -> None:
    sqs = client(moto_server)
    queues = create_queues(sqs, "semantics", max_receive_count=2)
    enqueue(sqs, queues.url, backlog_entries(3))

    def receive() -> list[dict[str, object]]:
        got = sqs.receive_message(
            QueueUrl=queues.url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=[OWNER_ATTRIBUTE],
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return [dict(message) for message in got.get("Messages", [])]

    first = receive()
    assert len(first) == 3
    for message in first:
        parse_event(str(message["Body"]))
        assert message["MessageAttributes"] == {
            OWNER_ATTRIBUTE: {"DataType": "String", "StringValue": BENCH_USER}
        }
    # In flight: invisible until deleted or made visible again.
    assert receive() == []
    handles = [str(message["ReceiptHandle"]) for message in first]
    response = sqs.delete_message_batch(
        QueueUrl=queues.url,
        Entries=[
            {"Id": "deleted", "ReceiptHandle": handles[0]},
            {"Id": "unknown", "ReceiptHandle": "not-a-receipt-handle"},
        ],
    )
    assert [entry["Id"] for entry in response["Successful"]] == ["deleted"]
    assert [entry["Id"] for entry in response["Failed"]] == ["unknown"]
    # A handle deleted before is no error (a delete retried after a timeout).
    sqs.delete_message(QueueUrl=queues.url, ReceiptHandle=handles[0])

    sqs.change_message_visibility(
        QueueUrl=queues.url, ReceiptHandle=handles[1], VisibilityTimeout=0
    )
    [again] = receive()
    assert again["Body"] == first[1]["Body"]
    assert again["Attributes"] == {"ApproximateReceiveCount": "2"}
    # Received maxReceiveCount times: the next receive moves it to the dead-letter queue.
    sqs.change_message_visibility(
        QueueUrl=queues.url, ReceiptHandle=str(again["ReceiptHandle"]), VisibilityTimeout=0
    )
    assert receive() == []
    time.sleep(0.1)  # the patched counts are at most 50 ms old
    assert queue_depth(sqs, queues.url) == 1  # the third, still in flight
    assert queue_depth(sqs, queues.dlq_url) == 1


def test_the_table_compares_each_drain_with_the_queue_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_table(
        [
            Drain(QUEUE_ALONE, 10_000, 10.0, 0, consumer_cpu=5.0, moto_cpu=8.0),
            Drain(WORKER, 10_000, 12.5, 3),
        ]
    )
    header, alone, worker = capsys.readouterr().out.splitlines()
    assert header.split()[-7:] == ["errors", "ratio", "consumer", "CPU", "ms/event", "moto", "CPU"]
    assert alone.split()[-5:] == ["1000", "0", "100.0%", "0.50", "80%"]
    assert worker.split()[-5:] == ["800", "3", "80.0%", "-", "-"]
