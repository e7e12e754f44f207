"""The queue consumer: long-polls SQS and records each event once.

For each message: parse the body (:func:`todo_common.events.parse_event`) and
the owner (the message attribute ``ownerId``; absent on events of a release
before ownership, whose activity then has no owner), then, in one write
transaction, insert the activity row keyed by the event id unless it exists (a
duplicate delivery changes nothing), commit, and only then delete the message.
A message that cannot be parsed or processed is never deleted: the worker logs
why and makes it visible again after ``WORKER_RETRY_DELAY_SECONDS``; the
queue's redrive policy moves it to the dead-letter queue after
``maxReceiveCount`` receives.

Shutdown (SIGTERM or SIGINT): stop receiving, finish the message in hand
(bounded by ``WORKER_SHUTDOWN_TIMEOUT_SECONDS``), hand the other received
messages back to the queue, exit 0.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from todo_common.database import DatabaseConfigError, create_session_factory
from todo_common.events import OWNER_ATTRIBUTE, EventMessage, InvalidEventError, parse_event
from todo_common.logs import configure_logging
from todo_common.migrate import start_database
from todo_common.models import OWNER_MAX_LENGTH, Activity
from todo_common.queue import sqs_client
from todo_common.todos import utc_now
from todo_common.uow import UnitOfWorkFactory
from todo_worker.settings import WorkerSettings

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger("todo_worker")

# After a failed receive (SQS unreachable): wait this long, doubling to the cap.
RECEIVE_BACKOFF_SECONDS = 1.0
RECEIVE_BACKOFF_MAX_SECONDS = 30.0


def message_owner(message: MessageTypeDef) -> str | None:
    """The ``ownerId`` message attribute, or None when the publisher sent none."""
    attribute = message.get("MessageAttributes", {}).get(OWNER_ATTRIBUTE)
    if attribute is None:
        return None
    value = attribute.get("StringValue")
    if attribute.get("DataType") != "String" or not value or len(value) > OWNER_MAX_LENGTH:
        raise InvalidEventError(f"{OWNER_ATTRIBUTE}: not a user id")
    return value


class Worker:
    def __init__(
        self, uow_factory: UnitOfWorkFactory, client: SQSClient, settings: WorkerSettings
    ) -> None:
        self.uow_factory = uow_factory
        self.client = client
        self.settings = settings
        self.queue_url = settings.queue_url
        self.stopping = threading.Event()
        # True while a receive call is waiting (nothing in hand): a shutdown
        # need not wait for it.
        self.receiving = False
        self.in_hand = False

    # ------------------------------------------------------------ one message
    def record(self, event: EventMessage, owner: str | None = None) -> bool:
        """Write the activity row for ``event`` of ``owner``; False if it was already there."""
        try:
            with self.uow_factory(write=True) as uow:
                if uow.activity.get(event.event_id) is not None:
                    return False
                uow.activity.add(
                    Activity(
                        event_id=event.event_id,
                        type=event.type,
                        todo_id=event.todo_id,
                        text=event.text,
                        occurred_at=event.occurred_at,
                        processed_at=utc_now(),
                        owner_id=owner,
                    )
                )
                uow.commit()
                return True
        except IntegrityError:
            # Another worker committed the same event between our read and insert.
            return False

    def handle(self, message: MessageTypeDef) -> bool:
        """Process one message; True if it was done with (and deleted)."""
        message_id = message.get("MessageId", "?")
        receives = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
        context = {"message_id": message_id, "receive_count": receives}
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
            return False
        context |= {"event_id": str(event.event_id), "event_type": event.type}
        try:
            new = self.record(event, owner)
        except (SQLAlchemyError, DatabaseConfigError, BotoCoreError, ClientError) as error:
            log.error(
                "event %s failed (receive %s): %s; it will be retried, then dead-lettered",
                event.event_id,
                receives,
                error,
                extra=context,
            )
            self.retry_later(message)
            return False
        self.delete(message)
        log.info(
            "recorded %s %s" if new else "duplicate %s %s ignored",
            event.type,
            event.event_id,
            extra={**context, "duplicate": not new},
        )
        return True

    def delete(self, message: MessageTypeDef) -> None:
        try:
            self.client.delete_message(
                QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        except (BotoCoreError, ClientError) as error:
            # The work is committed: a redelivery is a harmless duplicate.
            log.warning("could not delete message %s: %s", message.get("MessageId"), error)

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

    # ------------------------------------------------------------ the loop
    def heartbeat(self) -> None:
        path: Path = self.settings.worker_heartbeat_file
        try:
            path.touch()
        except OSError as error:
            log.warning("cannot write heartbeat %s: %s", path, error)

    def poll_once(self) -> int:
        """One receive and its messages; the number processed."""
        self.receiving = True
        try:
            response = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.settings.worker_max_messages,
                WaitTimeSeconds=self.settings.worker_wait_time_seconds,
                VisibilityTimeout=self.settings.worker_visibility_timeout_seconds,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
                MessageAttributeNames=[OWNER_ATTRIBUTE],
            )
            messages = response.get("Messages", [])
            self.in_hand = bool(messages)
        finally:
            self.receiving = False
        done = 0
        try:
            for index, message in enumerate(messages):
                if self.stopping.is_set():
                    # Not started: hand them back now rather than after the timeout.
                    for rest in messages[index:]:
                        self.retry_later(rest, delay=0)
                    break
                self.handle(message)
                done += 1
                self.heartbeat()
        finally:
            self.in_hand = False
        self.heartbeat()
        return done

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
    engine = start_database(settings)
    if engine is None:
        return 1
    client = sqs_client(settings, read_timeout=settings.worker_wait_time_seconds + 10)
    worker = Worker(UnitOfWorkFactory(create_session_factory(engine)), client, settings)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping on %s", signal.Signals(signum).name)
        worker.stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    for early in early_signals or []:
        stop(early, None)

    thread = threading.Thread(target=worker.run, name="receive-loop", daemon=True)
    thread.start()
    log.info("worker consuming %s", settings.queue_url, extra={"queue_url": settings.queue_url})
    while thread.is_alive() and not worker.stopping.wait(1.0):
        pass
    deadline = time.monotonic() + settings.worker_shutdown_timeout_seconds
    while thread.is_alive() and time.monotonic() < deadline:
        if worker.receiving and not worker.in_hand:
            break  # waiting on an empty long poll: nothing in hand to finish
        thread.join(0.05)
    if worker.in_hand:
        log.warning("shutdown timeout: the message in hand is not finished; it will be redelivered")
    engine.dispose()
    log.info("worker stopped")
    return 0
