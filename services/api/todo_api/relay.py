"""The outbox relay: publishes pending domain events to the event topic and marks them sent.

It runs as a daemon thread inside the API process when ``EVENTS_TOPIC_ARN`` is set.
One pass (:meth:`Relay.publish_once`) claims up to ``RELAY_BATCH_SIZE``
pending rows in a write transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several API tasks publish disjoint sets), publishes them in one
SNS ``PublishBatch`` and marks those SNS accepted as sent, in the same
transaction. Each event is published once, its body the message: SNS fans it out
to every consumer's queue whose subscription (raw delivery, a filter on the body's
``type``) wants it. If SNS fails the transaction rolls back: the rows stay pending
and the next pass retries them after an exponential backoff with full
jitter. A crash between SNS accepting and the commit republishes the batch:
delivery is at-least-once, and the consumers' idempotency absorbs duplicates.

A relay failure never fails an API request: the requests only write rows.

Each event is published in its own producer span, a child of the context its row kept (the
request that made the change, todo_common.tracing); that span's context goes with the message as
the ``traceparent`` attribute, so the worker continues the same trace.

Housekeeping (:meth:`Relay.housekeeping`, about once a minute): published rows older than the
retention are deleted in bounded batches, and the backlog (pending events and the age of the
oldest) is logged in CloudWatch's embedded metric format, so an alarm sees a relay that has
stopped publishing before users notice missing activity.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from opentelemetry import trace
from sqlalchemy.exc import SQLAlchemyError

from todo_common.events import OWNER_ATTRIBUTE
from todo_common.metrics import emf_fields
from todo_common.todos import utc_now
from todo_common.tracing import TRACE_ATTRIBUTE, context_of, current_traceparent, tracer
from todo_common.uow import UnitOfWorkFactory

if TYPE_CHECKING:
    from todo_common.models import OutboxEvent
    from todo_common.queue import SnsPublisher

log = logging.getLogger(__name__)

BASE_BACKOFF_SECONDS = 0.5
PRUNE_BATCH = 1000


@dataclass(frozen=True, kw_only=True)
class OutboxStatus:
    pending: int
    oldest_pending_age_seconds: float
    pruned: int


@dataclass(frozen=True, kw_only=True)
class Housekeeping:
    """How long published events are kept, and where the backlog metrics go."""

    retention: timedelta = timedelta(days=7)
    interval_seconds: float = 60.0
    metrics_namespace: str = "Todo"
    # The metrics' one dimension, Service=<SERVICE_NAME>: the infra's alarms compute the same
    # value from the service registry, so it must come from the setting, not a literal.
    service_name: str = "todo-api"


def _entry(index: int, event: OutboxEvent, span: trace.Span) -> dict[str, Any]:
    """The event's PublishBatch entry: its body; its owner and the context of its publication
    span as message attributes."""
    entry: dict[str, Any] = {"Id": str(index), "Message": event.body}
    attributes = {}
    if event.owner_id is not None:
        attributes[OWNER_ATTRIBUTE] = {"DataType": "String", "StringValue": event.owner_id}
    traceparent = current_traceparent(span)
    if traceparent is not None:
        attributes[TRACE_ATTRIBUTE] = {"DataType": "String", "StringValue": traceparent}
    if attributes:
        entry["MessageAttributes"] = attributes
    return entry


def _publish_span(event: OutboxEvent, topic_arn: str) -> trace.Span:
    """The event's publication, in the trace of the request that wrote it (a new trace for a
    row written untraced)."""
    return tracer.start_span(
        f"{event.type} publish",
        context=context_of(event.trace_parent),
        kind=trace.SpanKind.PRODUCER,
        attributes={
            "messaging.system": "aws_sns",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic_arn,
            "messaging.message.id": str(event.id),
        },
    )


class Relay:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        client: SnsPublisher,
        topic_arn: str,
        *,
        batch_size: int = 10,
        poll_interval: float = 2.0,
        max_backoff: float = 30.0,
        housekeeping: Housekeeping | None = None,
        rng: Callable[[float, float], float] = random.uniform,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.uow_factory = uow_factory
        self.client = client
        self.topic_arn = topic_arn
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.housekeeping_policy = housekeeping or Housekeeping()
        self._rng = rng
        self._clock = clock
        self._next_housekeeping = clock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0

    def notify(self) -> None:
        """Events were committed: publish now rather than at the next poll."""
        self._wake.set()

    def publish_once(self) -> int:
        """One pass; the number of events published. Raises on SNS or database errors."""
        with self.uow_factory(write=True) as uow:
            events = uow.outbox.claim_pending(self.batch_size)
            if not events:
                return 0
            spans = [_publish_span(event, self.topic_arn) for event in events]
            try:
                sent = self._publish(events, spans)
            finally:
                for span in spans:
                    span.end()
            uow.outbox.mark_sent(sent, utc_now())
            uow.commit()
        if len(sent) < len(events):
            raise RelayError(f"{len(events) - len(sent)} of {len(events)} events refused by SNS")
        return len(sent)

    def _publish(self, events: list[OutboxEvent], spans: list[trace.Span]) -> list[uuid.UUID]:
        """One PublishBatch of ``events``; the ids SNS accepted. Each span records its outcome."""
        entries = [
            _entry(index, event, span)
            for index, (event, span) in enumerate(zip(events, spans, strict=True))
        ]
        try:
            response = self.client.publish_batch(
                TopicArn=self.topic_arn, PublishBatchRequestEntries=entries
            )
        except Exception as error:
            for span in spans:
                span.set_status(trace.StatusCode.ERROR, type(error).__name__)
            raise
        sent = [events[int(ok["Id"])].id for ok in response.get("Successful", [])]
        for failed in response.get("Failed", []):
            reason = failed.get("Message", failed.get("Code"))
            spans[int(failed["Id"])].set_status(trace.StatusCode.ERROR, str(reason))
            log.warning("SNS refused event %s: %s", events[int(failed["Id"])].id, reason)
        return sent

    def housekeeping(self, now: datetime | None = None) -> OutboxStatus:
        """Delete published rows past the retention; log the backlog as metrics."""
        now = now or utc_now()
        policy = self.housekeeping_policy
        with self.uow_factory(write=True) as uow:
            pruned = uow.outbox.delete_sent_before(now - policy.retention, PRUNE_BATCH)
            pending = uow.outbox.pending_count()
            oldest = uow.outbox.oldest_pending_at()
            uow.commit()
        age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        status = OutboxStatus(pending=pending, oldest_pending_age_seconds=age, pruned=pruned)
        log.info(
            "outbox status",
            extra=emf_fields(
                namespace=policy.metrics_namespace,
                dimensions={"Service": policy.service_name},
                metrics={
                    "OutboxPending": (pending, "Count"),
                    "OutboxOldestPendingAgeSeconds": (age, "Seconds"),
                    "OutboxPruned": (pruned, "Count"),
                },
                timestamp=now,
            ),
        )
        return status

    def housekeeping_if_due(self) -> OutboxStatus | None:
        """Housekeeping at most once per interval (the first pass runs it at once)."""
        tick = self._clock()
        if tick < self._next_housekeeping:
            return None
        self._next_housekeeping = tick + self.housekeeping_policy.interval_seconds
        return self.housekeeping()

    def backoff(self) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**failures)]."""
        ceiling = min(self.max_backoff, BASE_BACKOFF_SECONDS * 2 ** min(self.failures, 30))
        return self._rng(0.0, ceiling)

    def run(self) -> None:
        """Publish until :meth:`stop`; never raises."""
        while not self._stop.is_set():
            try:
                self.housekeeping_if_due()
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
        log.info("outbox relay started", extra={"topic_arn": self.topic_arn})

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


class RelayError(Exception):
    """SNS accepted only part of a batch (the rest stays pending)."""
