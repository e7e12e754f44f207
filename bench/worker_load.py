"""Worker drain benchmark: events/s from a backlog on the local stack (moto's SQS server and
PostgreSQL), against a baseline in the same run.

    make bench-worker
    make bench-worker BENCH_ARGS="--events 2000 --set WORKER_CONCURRENCY=1"

A backlog of ``--events`` valid events (the body of todo_common.events and the ownerId message
attribute, as the relay publishes them; SendMessageBatch) waits in a fresh queue, then the real
worker (``python -m todo_worker``, its default settings unless ``--set``) starts; the clock runs
from its "worker consuming" line (migrated, receiving) until every activity row exists and the
queue is empty. The baseline drains an equal backlog on the same moto server with a minimal
loop: receive 10, DeleteMessageBatch, no database, no parsing. The ratio, not the events/s
alone, is what compares across machines; the CPU columns tell who was busy: the consumer
(milliseconds of CPU per event: the loop, or the worker process) and moto (share of one core).

moto's server is started with its per-message scans of the whole queue taken out
(:func:`patch_moto_sqs`): as released, it cannot hold a backlog of 10,000 (``--stock-moto``
shows it on a few hundred). Loopback only (127.0.0.1), every wait bounded by ``--timeout``;
moto and the worker are stopped and the schema dropped at the end; the worker's log is kept in
build/bench/worker-load.log. The machine's cores are shared by moto, PostgreSQL, the worker and
this process: a relative measure, not a capacity plan.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import psycopg

from config.exit_codes import FAILURE, SUCCESS
from config.paths import ROOT

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

    from todo_common.events import EventType

PYTHONPATH = os.pathsep.join(
    str(ROOT / part) for part in ("services/common", "services/worker", "services/devstack")
)
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# Not bench-api's schema: the two benchmarks may run side by side.
SCHEMA = "todo_bench_worker"
BENCH_USER = "bench-user"
# SQS's most per SendMessageBatch, ReceiveMessage and DeleteMessageBatch.
SQS_BATCH = 10
POLL_SECONDS = 0.05
QUEUE_ALONE = "queue alone (receive 10 + delete batch)"
WORKER = "worker (python -m todo_worker)"
# The worker logs it once migrated, its receive loops started: the clock starts there.
READY = "worker consuming"
START_TIMEOUT_SECONDS = 60
LOG = ROOT / "build" / "bench" / "worker-load.log"


@dataclass(frozen=True)
class Drain:
    name: str
    events: int
    seconds: float
    # Events not done with when the clock stopped: rows missing, messages left or dead-lettered.
    errors: int
    # CPU seconds over the drain, None where unknown: the consumer's, moto's.
    consumer_cpu: float | None = None
    moto_cpu: float | None = None

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Stack:
    """The local stack of one run: moto's endpoint, a client on it and moto's process id."""

    sqs: SQSClient
    endpoint: str
    moto_pid: int


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) process ``pid`` used so far; None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def used(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


# ------------------------------------------------------------------ the backlog
def backlog_entries(count: int) -> list[dict[str, object]]:
    """``count`` SendMessageBatch entries of distinct events, as the relay would publish them."""
    from todo_common.events import OWNER_ATTRIBUTE, new_event  # noqa: PLC0415 - services path

    now = datetime.now(UTC)
    types: tuple[EventType, ...] = (
        "todo.created",
        "todo.updated",
        "todo.completed",
        "todo.deleted",
    )
    entries: list[dict[str, object]] = []
    for index in range(count):
        event = new_event(
            types[index % len(types)], uuid.uuid4(), f"todo {index}", now, owner=BENCH_USER
        )
        entries.append(
            {
                "Id": str(index % SQS_BATCH),
                "MessageBody": event.body,
                "MessageAttributes": {
                    OWNER_ATTRIBUTE: {"DataType": "String", "StringValue": BENCH_USER}
                },
            }
        )
    return entries


def enqueue(sqs: SQSClient, url: str, entries: list[dict[str, object]]) -> None:
    for start in range(0, len(entries), SQS_BATCH):
        batch = entries[start : start + SQS_BATCH]
        response = sqs.send_message_batch(QueueUrl=url, Entries=batch)  # type: ignore[arg-type]
        if response.get("Failed"):
            raise RuntimeError(f"SendMessageBatch refused {response['Failed']}")


def queue_depth(sqs: SQSClient, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


# ------------------------------------------------------------------ the two drains
def drain_queue_alone(stack: Stack, url: str, count: int, timeout: float) -> Drain:
    """The baseline: the worker's receive call and a batch delete, nothing else."""
    from todo_common.events import OWNER_ATTRIBUTE  # noqa: PLC0415 - services path

    sqs = stack.sqs
    done = 0
    cpu, moto_cpu = time.process_time(), process_cpu(stack.moto_pid)
    started = time.perf_counter()
    deadline = started + timeout
    while done < count and time.perf_counter() < deadline:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=SQS_BATCH,
            WaitTimeSeconds=1,
            VisibilityTimeout=30,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
            MessageAttributeNames=[OWNER_ATTRIBUTE],
        ).get("Messages", [])
        if messages:
            entries = [
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(messages)
            ]
            response = sqs.delete_message_batch(QueueUrl=url, Entries=entries)  # type: ignore[arg-type]
            done += len(response.get("Successful", []))
    seconds = time.perf_counter() - started
    return Drain(
        QUEUE_ALONE,
        count,
        seconds,
        count - done,
        consumer_cpu=time.process_time() - cpu,
        moto_cpu=used(moto_cpu, process_cpu(stack.moto_pid)),
    )


def worker_env(endpoint: str, url: str, heartbeat: Path) -> dict[str, str]:
    """What ``python -m todo_worker`` reads; every WORKER_* tuning at its default."""
    from todo_devstack.sqs import LOCAL_CREDENTIALS, REGION  # noqa: PLC0415 - services path

    return {
        **LOCAL_CREDENTIALS,
        "PYTHONPATH": PYTHONPATH,
        "DATABASE_URL": POSTGRES,
        "DATABASE_SCHEMA": SCHEMA,
        "QUEUE_URL": url,
        "SQS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "LOG_LEVEL": "INFO",
        "WORKER_HEARTBEAT_FILE": str(heartbeat),
    }


def activity_count(conn: psycopg.Connection[tuple[int]]) -> int:
    row = conn.execute(f"SELECT count(*) FROM {SCHEMA}.activity").fetchone()  # noqa: S608 - constant
    return int(row[0]) if row else 0


@contextmanager
def worker_process(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """``python -m todo_worker`` with ``env``, once it logs "worker consuming"; its log in LOG."""
    process = subprocess.Popen(
        [sys.executable, "-m", "todo_worker"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ready = threading.Event()

    def keep_log(stdout: IO[str]) -> None:
        # Drained to the end: the worker never blocks on a full pipe.
        with LOG.open("w", encoding="utf-8") as log:
            for line in stdout:
                log.write(line)
                if READY in line:
                    ready.set()

    LOG.parent.mkdir(parents=True, exist_ok=True)
    if process.stdout is None:
        raise RuntimeError("no stdout pipe")
    logger = threading.Thread(target=keep_log, args=(process.stdout,), daemon=True)
    logger.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not ready.wait(0.05):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start; its log: {LOG}")
        yield process
    finally:
        stop(process, timeout=30)
        logger.join(timeout=5)


def drain_with_worker(
    stack: Stack, url: str, count: int, *, timeout: float, settings: dict[str, str]
) -> Drain:
    """The real worker process on a backlog of ``count``: until every row exists, queue empty."""
    sqs = stack.sqs
    with (
        tempfile.TemporaryDirectory() as folder,
        psycopg.connect(POSTGRES, autocommit=True) as conn,
        worker_process(worker_env(stack.endpoint, url, Path(folder) / "beat") | settings) as worker,
    ):
        cpu, moto_cpu = process_cpu(worker.pid), process_cpu(stack.moto_pid)
        started = time.perf_counter()
        deadline = started + timeout
        rows = 0
        while time.perf_counter() < deadline:
            rows = activity_count(conn)
            # The delete follows the commit: done once the queue is empty too.
            if rows >= count and queue_depth(sqs, url) == 0:
                break
            time.sleep(POLL_SECONDS)
        seconds = time.perf_counter() - started
        consumer_cpu = used(cpu, process_cpu(worker.pid))
        moto_cpu = used(moto_cpu, process_cpu(stack.moto_pid))
        left = queue_depth(sqs, url)
    return Drain(WORKER, count, seconds, max(count - rows, 0) + left, consumer_cpu, moto_cpu)


# ------------------------------------------------------------------ moto, patched
def patch_moto_sqs() -> None:
    """Take the whole-queue scans out of moto's per-message paths; its queue semantics stay.

    moto (5.x) reads every queue attribute, three scans of the whole queue, for each message it
    accepts and three times for each message it hands out (for MessageRetentionPeriod alone),
    and scans the queue again for each message deleted; its clock costs microseconds a call.
    The cost of a message then grows with the backlog: 300 messages took 5 s to enqueue here,
    so 10,000 would take over an hour (the cost is quadratic), and draining them as long. The
    benchmark would measure moto's scans, not the worker, so its server runs with:

    * the clock read as ``time.time()`` (what moto's computes, without the datetime detour);
    * the approximate message counts recomputed at most every :data:`COUNT_TTL_SECONDS` (SQS
      documents them as approximate too), so a message no longer pays for them;
    * the retention check reading the queue's retention period directly;
    * a delete finding its message by receipt handle (an index kept as handles are issued);
    * a receive's scan for visible messages comparing the two timestamps, not calling the
      clock twice a message; and the request router's list of moto's services, a directory
      listing on every request, read once.
    """
    from moto import backends  # noqa: PLC0415 - only in the benchmark's moto process
    from moto.sqs import models  # noqa: PLC0415

    original_unix_time = getattr(models, "unix_time")  # noqa: B009 - not exported

    def unix_time(dt: datetime | None = None) -> float:
        return time.time() if dt is None else original_unix_time(dt)

    def unix_time_millis(dt: datetime | None = None) -> float:
        return unix_time(dt) * 1000.0

    setattr(models, "unix_time", unix_time)  # noqa: B010 - a module global moto reads
    setattr(models, "unix_time_millis", unix_time_millis)  # noqa: B010
    queue = models.Queue
    for name in COUNTS:
        setattr(queue, name, _cached_count(name, getattr(queue, name).fget))

    def is_valid(backend: Any, queue_name: str, message: Any) -> bool:
        retention = int(backend.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > time.time())

    setattr(models.SQSBackend, "is_message_valid_based_on_retention_period", is_valid)  # noqa: B010
    _index_receipt_handles(models)

    def visible_messages(queue: Any) -> list[Any]:
        now = time.time() * 1000.0
        return [m for m in queue._messages if now > m.visible_at and now >= m.delayed_until]

    setattr(queue, "messages", property(visible_messages))  # noqa: B010
    services = tuple(backends.list_of_moto_modules())
    setattr(backends, "list_of_moto_modules", lambda: services)  # noqa: B010


COUNTS = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
)
COUNT_TTL_SECONDS = 0.05


def _cached_count(name: str, compute: Callable[[Any], int]) -> property:
    def getter(queue: Any) -> int:
        cache: dict[str, tuple[float, int]] = queue.__dict__.setdefault("_bench_counts", {})
        now = time.monotonic()
        hit = cache.get(name)
        if hit is None or now - hit[0] > COUNT_TTL_SECONDS:
            hit = cache[name] = (now, compute(queue))
        return hit[1]

    return property(getter)


def _index_receipt_handles(models: Any) -> None:
    """Every receipt handle moto issues, mapped to its message: a delete looks it up."""
    handles: dict[str, Any] = {}
    mark_received = models.Message.mark_received

    def receive(message: Any, visibility_timeout: int | None = None) -> None:
        mark_received(message, visibility_timeout)
        handles[message.receipt_handle] = message

    def delete(queue: Any, receipt_handle: str) -> None:
        # moto's own semantics: a handle deleted before is fine, an unknown one is invalid.
        if receipt_handle in queue.deleted_messages:
            return
        message = handles.get(receipt_handle)
        if message is None or message not in queue._messages:
            raise models.ReceiptHandleIsInvalid
        queue._messages.remove(message)
        queue.pending_messages.discard(message)
        queue.deleted_messages.update(message.all_receipt_handles)

    setattr(models.Message, "mark_received", receive)  # noqa: B010
    setattr(models.Queue, "delete_message", delete)  # noqa: B010


def serve_moto(port: int) -> None:
    """moto's server on 127.0.0.1:port, patched (:func:`patch_moto_sqs`); until SIGTERM."""
    patch_moto_sqs()
    from moto import server as moto_server  # noqa: PLC0415 - after the patch

    moto_server.main(["-H", "127.0.0.1", "-p", str(port)])


def start_patched_moto(port: int) -> subprocess.Popen[bytes]:
    """todo_devstack.sqs.start_moto, with the server of :func:`serve_moto`."""
    from todo_devstack.sqs import start_moto  # noqa: PLC0415 - services path

    return start_moto(port, server=["bench.worker_load", "--serve-moto", str(port)], cwd=ROOT)


def stop(process: subprocess.Popen[Any], *, timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ------------------------------------------------------------------ the stack
@contextmanager
def local_stack(*, stock_moto: bool) -> Iterator[Stack]:
    """moto's server on a free loopback port and a fresh PostgreSQL schema; both gone after."""
    from todo_devstack.sqs import client, free_port, start_moto  # noqa: PLC0415 - services path

    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
    port = free_port()
    moto = start_moto(port) if stock_moto else start_patched_moto(port)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        yield Stack(client(endpoint), endpoint, moto.pid)
    finally:
        stop(moto, timeout=10)
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def run(count: int, timeout: float, *, stock_moto: bool, settings: dict[str, str]) -> list[Drain]:
    from todo_devstack.sqs import create_queues  # noqa: PLC0415 - services path

    with local_stack(stock_moto=stock_moto) as stack:
        alone = create_queues(stack.sqs, f"bench-alone-{uuid.uuid4().hex[:8]}")
        enqueue(stack.sqs, alone.url, backlog_entries(count))
        baseline = drain_queue_alone(stack, alone.url, count, timeout)
        queues = create_queues(stack.sqs, f"bench-worker-{uuid.uuid4().hex[:8]}")
        enqueue(stack.sqs, queues.url, backlog_entries(count))
        drained = drain_with_worker(stack, queues.url, count, timeout=timeout, settings=settings)
        dead = queue_depth(stack.sqs, queues.dlq_url)
    return [baseline, replace(drained, errors=drained.errors + dead)]


def print_table(results: list[Drain]) -> None:
    """Each drain against the baseline's events/s, and what it cost the consumer and moto."""
    baseline = results[0].rate
    header = f"{'scenario':<42}{'events':>8}{'seconds':>10}{'events/s':>10}{'errors':>8}"
    print(f"{header}{'ratio':>8}{'consumer CPU ms/event':>23}{'moto CPU':>10}")
    for result in results:
        consumer = (
            "-"
            if result.consumer_cpu is None
            else f"{result.consumer_cpu * 1000 / result.events:.2f}"
        )
        moto = "-" if result.moto_cpu is None else f"{result.moto_cpu / result.seconds:.0%}"
        print(
            f"{result.name:<42}{result.events:>8}{result.seconds:>10.2f}{result.rate:>10.0f}"
            f"{result.errors:>8}{result.rate / baseline:>8.1%}{consumer:>23}{moto:>10}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="backlog size")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per drain, at most")
    parser.add_argument(
        "--stock-moto",
        action="store_true",
        help="moto as make dev runs it (its cost per message grows with the backlog: keep "
        "--events in the hundreds)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="WORKER_SETTING=VALUE",
        help="a setting of the worker instead of its default (repeatable)",
    )
    # The benchmark's own moto server process (start_patched_moto), not for a person.
    parser.add_argument("--serve-moto", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_moto:
        serve_moto(args.serve_moto)
        return SUCCESS
    if not 100 <= args.events <= 100_000 or not 10 <= args.timeout <= 1800:
        parser.error("events must be 100..100000 and timeout 10..1800 s")
    settings = dict(item.partition("=")[::2] for item in args.set)
    if not all(name.startswith("WORKER_") and value for name, value in settings.items()):
        parser.error("--set takes WORKER_<NAME>=<value>")
    results = run(args.events, args.timeout, stock_moto=args.stock_moto, settings=settings)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    moto = "stock moto" if args.stock_moto else "moto without its per-message queue scans"
    tuning = ", ".join(f"{name}={value}" for name, value in settings.items()) or "defaults"
    print(
        f"\nWorker drain benchmark: a backlog of {args.events} events, {moto} + PostgreSQL, "
        f"loopback, {os.cpu_count()} cores shared; worker settings: {tuning}; "
        f"load average after the run: {load}"
    )
    print_table(results)
    return FAILURE if any(result.errors for result in results) else SUCCESS


if __name__ == "__main__":
    sys.exit(main())
