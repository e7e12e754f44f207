"""The outbox relay: publishes pending domain events to SQS and marks them sent.

It runs as a daemon thread inside the API process when ``QUEUE_URL`` is set.
One pass (:meth:`Relay.publish_once`) claims up to ``RELAY_BATCH_SIZE``
pending rows in a write transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several API tasks publish disjoint sets), sends them in one
``SendMessageBatch`` and marks those SQS accepted as sent, in the same
transaction. If SQS fails the transaction rolls back: the rows stay pending
and the next pass retries them after an exponential backoff with full
jitter. A crash between SQS accepting and the commit republishes the batch:
delivery is at-least-once, and the worker's idempotency absorbs duplicates.

A relay failure never fails an API request: the requests only write rows.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.exc import SQLAlchemyError

from todo_common.todos import utc_now
from todo_common.uow import UnitOfWorkFactory

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

log = logging.getLogger(__name__)

BASE_BACKOFF_SECONDS = 0.5


class Relay:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        client: SQSClient,
        queue_url: str,
        *,
        batch_size: int = 10,
        poll_interval: float = 2.0,
        max_backoff: float = 30.0,
        rng: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.uow_factory = uow_factory
        self.client = client
        self.queue_url = queue_url
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self._rng = rng
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0

    def notify(self) -> None:
        """Events were committed: publish now rather than at the next poll."""
        self._wake.set()

    def publish_once(self) -> int:
        """One pass; the number of events published. Raises on SQS or database errors."""
        with self.uow_factory(write=True) as uow:
            events = uow.outbox.claim_pending(self.batch_size)
            if not events:
                return 0
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(index), "MessageBody": event.body} for index, event in enumerate(events)
            ]
            response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            sent = [events[int(ok["Id"])].id for ok in response.get("Successful", [])]
            for failed in response.get("Failed", []):
                log.warning(
                    "SQS refused event %s: %s",
                    events[int(failed["Id"])].id,
                    failed.get("Message", failed.get("Code")),
                )
            uow.outbox.mark_sent(sent, utc_now())
            uow.commit()
        if len(sent) < len(events):
            raise RelayError(f"{len(events) - len(sent)} of {len(events)} events refused by SQS")
        return len(sent)

    def backoff(self) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**failures)]."""
        ceiling = min(self.max_backoff, BASE_BACKOFF_SECONDS * 2 ** min(self.failures, 30))
        return self._rng(0.0, ceiling)

    def run(self) -> None:
        """Publish until :meth:`stop`; never raises."""
        while not self._stop.is_set():
            try:
                published = self.publish_once()
            except (BotoCoreError, ClientError, SQLAlchemyError, RelayError) as error:
                self.failures += 1
                delay = self.backoff()
                log.warning(
                    "outbox relay: %s; retrying in %.1f s",
                    error,
                    delay,
                    extra={"failures": self.failures},
                )
                self._stop.wait(delay)
                continue
            except Exception:
                self.failures += 1
                log.exception("outbox relay: unexpected error")
                self._stop.wait(self.backoff())
                continue
            if self.failures:
                log.info("outbox relay: publishing again after %d failures", self.failures)
            self.failures = 0
            if published == self.batch_size:
                continue  # a full batch: more may be waiting
            self._wake.wait(self.poll_interval)
            self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="outbox-relay", daemon=True)
        self._thread.start()
        log.info("outbox relay started", extra={"queue_url": self.queue_url})

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


class RelayError(Exception):
    """SQS accepted only part of a batch (the rest stays pending)."""
