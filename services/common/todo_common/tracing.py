"""OpenTelemetry tracing: one trace per change, from the HTTP request to the worker's write.

The API opens a server span per request; the change's outbox row stores the W3C
``traceparent`` of the span that wrote it; the relay publishes the event as a child of that
context and hands its own context on in the message attribute :data:`TRACE_ATTRIBUTE` (the
version-1 body takes no new field, see todo_common.events); the worker continues the trace
from that attribute. Log lines written inside a span carry its trace id (todo_common.logs).

``TRACING_EXPORTER`` picks where spans go: ``otlp`` (in AWS: the task's collector sidecar on
loopback, which forwards to X-Ray, docs/tracing.md), ``console`` (one JSON span per line on
stderr), or ``none`` (the default: no SDK at all, every span a no-op).
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from typing import Final

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from todo_common.settings import CommonSettings

log = logging.getLogger(__name__)

# The message attribute carrying the publisher's W3C trace context (a String attribute).
TRACE_ATTRIBUTE: Final = "traceparent"
# "00-<32 hex trace id>-<16 hex span id>-<2 hex flags>"
TRACEPARENT_LENGTH: Final = 55
# One export's wait for the collector, and the whole flush at shutdown: the drain (the API's
# API_SHUTDOWN_TIMEOUT_SECONDS, 20 s) plus this stays inside ECS's 30 s stop timeout.
EXPORT_TIMEOUT_SECONDS: Final = 2.0
SHUTDOWN_FLUSH_SECONDS: Final = 3.0
# An attribute comes from a request at most this long (X-Ray refuses a segment over 64 KB).
MAX_ATTRIBUTE_LENGTH: Final = 1024

tracer = trace.get_tracer("todo")
_propagator = TraceContextTextMapPropagator()


class XRayIdGenerator(RandomIdGenerator):
    """Trace ids X-Ray accepts: the first 32 bits are the trace's start in epoch seconds.

    X-Ray files a trace by the time in its id and refuses ids that are not from the last
    30 days; a random W3C id would be dropped or misfiled. The other 96 bits stay random."""

    def generate_trace_id(self) -> int:
        return (int(time.time()) << 96) | random.getrandbits(96)


def build_provider(
    settings: CommonSettings, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """The SDK provider ``settings`` ask for (None for ``none``); ``exporter`` overrides the
    configured one (tests pass an in-memory exporter)."""
    processor: SpanProcessor
    if exporter is not None:
        processor = SimpleSpanProcessor(exporter)
    elif settings.tracing_exporter == "otlp":
        # Imported here: it pulls protobuf, which a service tracing nowhere need not load.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )

        # Batched off the request path: a slow or absent collector costs dropped spans, never
        # a slow request (the queue is bounded and the export has its own timeout).
        processor = BatchSpanProcessor(
            OTLPSpanExporter(endpoint=settings.tracing_endpoint, timeout=EXPORT_TIMEOUT_SECONDS)
        )
    elif settings.tracing_exporter == "console":
        processor = SimpleSpanProcessor(
            ConsoleSpanExporter(
                out=sys.stderr, formatter=lambda span: span.to_json(indent=None) + "\n"
            )
        )
    else:
        return None
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: settings.service_name}),
        # A new trace is sampled at the configured ratio; a continued one keeps its parent's
        # decision, so a sampled request is followed through the queue to the worker.
        sampler=ParentBased(TraceIdRatioBased(settings.tracing_sample_ratio)),
        id_generator=XRayIdGenerator(),
        span_limits=SpanLimits(max_attribute_length=MAX_ATTRIBUTE_LENGTH),
    )
    provider.add_span_processor(processor)
    return provider


def install(provider: TracerProvider) -> None:
    """Make ``provider`` the process's tracer provider (the first call wins).

    The global propagator is emptied: the framework's server span reads it from the request
    headers, and a trace context sent by a client would let anyone on the internet pick our
    trace ids and force every request to be sampled. A trace starts at the API; it travels
    on only in our own messages (:data:`TRACE_ATTRIBUTE`)."""
    propagate.set_global_textmap(_NoContextFromClients())
    trace.set_tracer_provider(provider)


class _NoContextFromClients(TextMapPropagator):
    """Reads no context from a request and writes none into one (see :func:`install`)."""

    # The TextMapPropagator interface, keyword names included (callers pass getter=...):
    # the arguments this one ignores stay.
    def extract(
        self,
        carrier: CarrierT,  # noqa: ARG002
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,  # noqa: ARG002
    ) -> Context:
        return context if context is not None else Context()

    def inject(
        self,
        carrier: CarrierT,  # noqa: ARG002
        context: Context | None = None,  # noqa: ARG002
        setter: Setter[CarrierT] = default_setter,  # noqa: ARG002
    ) -> None:
        return None

    @property
    def fields(self) -> set[str]:
        return set()


def configure_tracing(settings: CommonSettings) -> None:
    """Install the configured provider (once, at start); nothing for ``none``."""
    provider = build_provider(settings)
    if provider is not None:
        install(provider)
        log.info(
            "tracing to %s",
            settings.tracing_exporter,
            extra={"tracing_endpoint": settings.tracing_endpoint},
        )


def shutdown_tracing(
    timeout: float = SHUTDOWN_FLUSH_SECONDS, provider: trace.TracerProvider | None = None
) -> None:
    """Export what is still queued, for at most ``timeout`` seconds, before the process ends.

    The SDK's own shutdown retries each batch against an absent collector and may wait half a
    minute: past ECS's stop timeout the task is killed, its last log lines with it. What is not
    sent by then is dropped."""
    provider = provider or trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        return
    flushing = threading.Thread(target=provider.shutdown, name="tracing-shutdown", daemon=True)
    flushing.start()
    flushing.join(timeout)
    if flushing.is_alive():
        log.warning("tracing: spans not exported within %.0f s at shutdown were dropped", timeout)


def current_traceparent(span: trace.Span | None = None) -> str | None:
    """The W3C ``traceparent`` of ``span`` (default: the current span), or None for no real
    span (tracing off)."""
    carrier: dict[str, str] = {}
    context = trace.set_span_in_context(span) if span is not None else None
    _propagator.inject(carrier, context=context)
    return carrier.get(TRACE_ATTRIBUTE)


def context_of(traceparent: str | None) -> Context | None:
    """The remote context a ``traceparent`` names; None (start a new trace) if it names none."""
    if not traceparent or len(traceparent) != TRACEPARENT_LENGTH:
        return None
    context = _propagator.extract({TRACE_ATTRIBUTE: traceparent})
    if not trace.get_current_span(context).get_span_context().is_valid:
        return None
    return context


def xray_trace_id(trace_id: int) -> str:
    """The X-Ray form of a trace id, as the X-Ray console shows and searches it."""
    digits = f"{trace_id:032x}"
    return f"1-{digits[:8]}-{digits[8:]}"


def log_fields() -> dict[str, str]:
    """The current span's ids for a log line; empty outside a span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": xray_trace_id(context.trace_id),
        "span_id": f"{context.span_id:016x}",
    }
