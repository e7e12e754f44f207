"""The queue consumer: long-polls SQS and records each event once.

A process runs ``WORKER_CONCURRENCY`` receive loops (threads) on one SQS client and one
connection pool. Each receive (up to ``WORKER_MAX_MESSAGES``, 10 by default, SQS's most) is one
batch. For each message: parse the body (:func:`todo_common.events.parse_event`) and the owner
(the message attribute ``ownerId``; absent on events of a release before ownership, whose
activity then has no owner). Then, in one write transaction for the whole batch, insert the
activity rows keyed by the event ids unless they exist (``INSERT ... ON CONFLICT DO NOTHING``:
a duplicate delivery, in the batch or of an event already recorded, changes nothing), commit,
and only then delete the batch's messages (one ``DeleteMessageBatch``; a message it could not
delete is redelivered later, a harmless duplicate). Should the batch's transaction fail for any
reason but the database's as a whole (unreachable, timed out), its messages are recorded one by
one, each in its own transaction, so that one bad message cannot hold back the others.

A message that cannot be parsed or processed is never deleted: the worker logs why and makes
it visible again after ``WORKER_RETRY_DELAY_SECONDS``; the queue's redrive policy moves it to
the dead-letter queue after ``maxReceiveCount`` receives.

Shutdown (SIGTERM or SIGINT): every loop stops receiving, finishes the batch in hand (bounded
by ``WORKER_SHUTDOWN_TIMEOUT_SECONDS``; when recording one by one, the message in hand) and
hands the received messages it did not start back to the queue; the process exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from opentelemetry import trace
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from todo_common.database import DatabaseConfigError
from todo_common.events import OWNER_ATTRIBUTE, EventMessage, InvalidEventError, parse_event
from todo_common.logs import configure_logging
from todo_common.migrate import start_database
from todo_common.models import OWNER_MAX_LENGTH, Activity
from todo_common.queue import sqs_client
from todo_common.todos import utc_now
from todo_common.tracing import (
    TRACE_ATTRIBUTE,
    configure_tracing,
    context_of,
    shutdown_tracing,
    tracer,
)
from todo_common.uow import UnitOfWorkFactory
from todo_worker.settings import WorkerSettings

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef, MessageTypeDef

log = logging.getLogger("todo_worker")

# After a failed receive (SQS unreachable): wait this long, doubling to the cap.
RECEIVE_BACKOFF_SECONDS = 1.0
RECEIVE_BACKOFF_MAX_SECONDS = 30.0
# The message attributes the worker reads: ReceiveMessage returns only the ones it names.
MESSAGE_ATTRIBUTES = (OWNER_ATTRIBUTE, TRACE_ATTRIBUTE)
# What recording can raise: the database's errors, a bad database secret, Secrets Manager's.
RECORD_ERRORS = (SQLAlchemyError, DatabaseConfigError, BotoCoreError, ClientError)
# Of those, the database's as a whole: the same for every message, so a batch that failed
# with one is not retried message by message (that would only wait for it as many times).
DATABASE_DOWN = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    DatabaseConfigError,
    BotoCoreError,
    ClientError,
)


def message_owner(message: MessageTypeDef) -> str | None:
    """The ``ownerId`` message attribute, or None when the publisher sent none."""
    attribute = message.get("MessageAttributes", {}).get(OWNER_ATTRIBUTE)
    if attribute is None:
        return None
    value = attribute.get("StringValue")
    if attribute.get("DataType") != "String" or not value or len(value) > OWNER_MAX_LENGTH:
        raise InvalidEventError(f"{OWNER_ATTRIBUTE}: not a user id")
    return value


def message_trace(message: MessageTypeDef) -> str | None:
    """The ``traceparent`` message attribute (the publisher's span), or None."""
    attribute = message.get("MessageAttributes", {}).get(TRACE_ATTRIBUTE)
    return None if attribute is None else attribute.get("StringValue")


@dataclass
class Received:
    """One parsed message of a batch: its event, its owner, its log fields, and the span of its
    processing (a child of the publisher's, so the trace goes on from the request)."""

    message: MessageTypeDef
    event: EventMessage
    owner: str | None
    context: dict[str, Any]
    span: trace.Span

    @property
    def receives(self) -> str:
        return str(self.context["receive_count"])

    def activity(self, processed_at: datetime) -> Activity:
        event = self.event
        return Activity(
            event_id=event.event_id,
            type=event.type,
            todo_id=event.todo_id,
            text=event.text,
            occurred_at=event.occurred_at,
            processed_at=processed_at,
            owner_id=self.owner,
        )


# A message done with (committed): whether this delivery inserted its row.
Done = tuple[Received, bool]


class Worker:
    """One receive loop. ``stopping`` may be shared: one event stops every loop of a process."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        client: SQSClient,
        settings: WorkerSettings,
        stopping: threading.Event | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self.client = client
        self.settings = settings
        self.queue_url = settings.queue_url
        self.stopping = stopping or threading.Event()
        # True while a receive call is waiting (nothing in hand): a shutdown
        # need not wait for it.
        self.receiving = False
        self.in_hand = False

    # ------------------------------------------------------------ one message
    def parse(self, message: MessageTypeDef) -> Received | None:
        """The message's event and owner; None if unparseable (logged, retried later)."""
        message_id = message.get("MessageId", "?")
        receives = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
        context: dict[str, Any] = {"message_id": message_id, "receive_count": receives}
        try:
            event = parse_event(message.get("Body", ""))
            owner = message_owner(message)
        except InvalidEventError as error:
            log.error(
                "unparseable message %s (receive %s): %s; left for the dead-letter queue",
                message_id,
                receives,
                error,
                extra=context,
            )
            self.retry_later(message)
            return None
        context |= {"event_id": str(event.event_id), "event_type": event.type}
        span = tracer.start_span(
            f"{event.type} process",
            context=context_of(message_trace(message)),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "aws_sqs",
                "messaging.operation.type": "process",
                "messaging.destination.name": self.queue_url or "",
                "messaging.message.id": message_id,
                "todo.event_id": str(event.event_id),
            },
        )
        return Received(message, event, owner, context, span)

    def failed(self, item: Received, error: Exception) -> None:
        item.span.set_status(trace.StatusCode.ERROR, type(error).__name__)
        with trace.use_span(item.span):
            log.error(
                "event %s failed (receive %s): %s; it will be retried, then dead-lettered",
                item.event.event_id,
                item.receives,
                error,
                extra=item.context,
            )
        self.retry_later(item.message)

    def retry_later(self, message: MessageTypeDef, delay: int | None = None) -> None:
        """Make the message visible again after ``delay`` seconds (never delete it)."""
        seconds = self.settings.worker_retry_delay_seconds if delay is None else delay
        try:
            self.client.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=seconds,
            )
        except (BotoCoreError, ClientError) as error:
            log.warning("could not change visibility of %s: %s", message.get("MessageId"), error)

    # ------------------------------------------------------------ one batch
    def record(self, batch: Sequence[Received]) -> set[uuid.UUID]:
        """One write transaction for ``batch``; the event ids it inserted (not there before)."""
        processed_at = utc_now()
        # One statement writes every row of the batch: each message's trace shows it.
        writes = [
            tracer.start_span("activity write", context=trace.set_span_in_context(item.span))
            for item in batch
        ]
        try:
            with self.uow_factory(write=True) as uow:
                inserted = uow.activity.add_new([item.activity(processed_at) for item in batch])
                uow.commit()
        except Exception as error:
            for span in writes:
                span.set_status(trace.StatusCode.ERROR, type(error).__name__)
            raise
        finally:
            for span in writes:
                span.end()
        return inserted

    def process(self, batch: list[Received]) -> list[Done]:
        """Record ``batch``; what was done with. A message that failed is retried later."""
        try:
            inserted = self.record(batch)
        except RECORD_ERRORS as error:
            if len(batch) == 1 or isinstance(error, DATABASE_DOWN):
                for item in batch:
                    self.failed(item, error)
                return []
            log.warning("a batch of %d failed: %s; recording it one by one", len(batch), error)
            return self.process_one_by_one(batch)
        return outcomes(batch, inserted)

    def process_one_by_one(self, batch: list[Received]) -> list[Done]:
        done: list[Done] = []
        for index, item in enumerate(batch):
            if self.stopping.is_set():
                # Not started: hand them back now rather than after the timeout.
                for rest in batch[index:]:
                    self.retry_later(rest.message, delay=0)
                break
            try:
                inserted = self.record([item])
            except RECORD_ERRORS as error:
                self.failed(item, error)
                continue
            done += outcomes([item], inserted)
            self.heartbeat()
        return done

    def delete(self, done: list[Done]) -> None:
        """One DeleteMessageBatch for the messages done with (their work is committed)."""
        if not done:
            return
        entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(index), "ReceiptHandle": item.message["ReceiptHandle"]}
            for index, (item, _new) in enumerate(done)
        ]
        try:
            response = self.client.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except (BotoCoreError, ClientError) as error:
            # The work is committed: a redelivery is a harmless duplicate.
            log.warning("could not delete %d messages: %s", len(done), error)
            return
        for failure in response.get("Failed", []):
            item = done[int(failure["Id"])][0]
            log.warning(
                "could not delete message %s: %s %s",
                item.message.get("MessageId"),
                failure.get("Code"),
                failure.get("Message", ""),
                extra=item.context,
            )

    # ------------------------------------------------------------ the loop
    def heartbeat(self) -> None:
        path: Path = self.settings.worker_heartbeat_file
        try:
            path.touch()
        except OSError as error:
            log.warning("cannot write heartbeat %s: %s", path, error)

    def receive(self) -> list[MessageTypeDef]:
        self.receiving = True
        try:
            response = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.settings.worker_max_messages,
                WaitTimeSeconds=self.settings.worker_wait_time_seconds,
                VisibilityTimeout=self.settings.worker_visibility_timeout_seconds,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
                MessageAttributeNames=MESSAGE_ATTRIBUTES,
            )
            messages = response.get("Messages", [])
            self.in_hand = bool(messages)
        finally:
            self.receiving = False
        return messages

    def handle(self, messages: list[MessageTypeDef]) -> list[Done]:
        """Parse each message, record the batch, delete what was done with; that."""
        if self.stopping.is_set():
            # Not started: hand them back now rather than after the timeout.
            for message in messages:
                self.retry_later(message, delay=0)
            return []
        batch = [item for message in messages if (item := self.parse(message)) is not None]
        try:
            done = self.process(batch) if batch else []
            self.delete(done)
            for item, new in done:
                with trace.use_span(item.span):  # the line carries the message's trace id
                    log.info(
                        "recorded %s %s" if new else "duplicate %s %s ignored",
                        item.event.type,
                        item.event.event_id,
                        extra={**item.context, "duplicate": not new},
                    )
        finally:
            for item in batch:
                item.span.end()
        return done

    def poll_once(self) -> int:
        """One receive and its batch; the number of messages done with (committed, deleted)."""
        messages = self.receive()
        try:
            done = self.handle(messages)
        finally:
            self.in_hand = False
        self.heartbeat()
        return len(done)

    def run(self) -> None:
        """Receive and process until :attr:`stopping` is set."""
        failures = 0
        self.heartbeat()
        while not self.stopping.is_set():
            try:
                self.poll_once()
                failures = 0
            except (BotoCoreError, ClientError) as error:
                failures += 1
                delay = min(RECEIVE_BACKOFF_MAX_SECONDS, RECEIVE_BACKOFF_SECONDS * 2**failures)
                log.warning("receive failed: %s; retrying in %.0f s", error, delay)
                self.stopping.wait(delay)
            except Exception:
                log.exception("unexpected error in the receive loop")
                self.stopping.wait(RECEIVE_BACKOFF_SECONDS)


def run(settings: WorkerSettings, early_signals: list[int] | None = None) -> int:
    """Migrate, then consume until SIGTERM/SIGINT; the process's exit code.

    ``early_signals``: signals received before this was called (start-up).
    """
    configure_logging(settings.log_level, settings.service_name)
    configure_tracing(settings)
    engine = start_database(settings)
    if engine is None:
        return 1
    client = sqs_client(settings, read_timeout=settings.worker_wait_time_seconds + 10)
    uows = UnitOfWorkFactory(engine)
    stopping = threading.Event()
    # Several receive loops, one client and one pool: a loop mostly waits on SQS or the
    # database, and one loop's round trips alone cap a process below the API's create rate.
    loops = [Worker(uows, client, settings, stopping) for _ in range(settings.worker_concurrency)]

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping on %s", signal.Signals(signum).name)
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    for early in early_signals or []:
        stop(early, None)

    threads = [
        threading.Thread(target=loop.run, name=f"receive-loop-{index}", daemon=True)
        for index, loop in enumerate(loops)
    ]
    for thread in threads:
        thread.start()
    log.info(
        "worker consuming %s",
        settings.queue_url,
        extra={"queue_url": settings.queue_url, "receive_loops": len(loops)},
    )
    while any(thread.is_alive() for thread in threads) and not stopping.wait(1.0):
        pass
    finish(list(zip(loops, threads, strict=True)), settings.worker_shutdown_timeout_seconds)
    engine.dispose()
    shutdown_tracing()
    log.info("worker stopped")
    return 0


def finish(loops: list[tuple[Worker, threading.Thread]], timeout: float) -> None:
    """Wait (up to ``timeout``) until every loop has finished what it has in hand."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [(loop, thread) for loop, thread in loops if thread.is_alive()]
        # A loop waiting on an empty long poll has nothing in hand to finish.
        if all(loop.receiving and not loop.in_hand for loop, _thread in running):
            break
        running[0][1].join(0.05)
    if any(loop.in_hand for loop, _thread in loops):
        log.warning("shutdown timeout: the batch in hand is not finished; it will be redelivered")


def outcomes(batch: Sequence[Received], inserted: set[uuid.UUID]) -> list[Done]:
    """Each message of a committed batch, and whether it is the one that inserted its row."""
    done: list[Done] = []
    seen: set[uuid.UUID] = set()
    for item in batch:
        event_id = item.event.event_id
        done.append((item, event_id in inserted and event_id not in seen))
        seen.add(event_id)
    return done
