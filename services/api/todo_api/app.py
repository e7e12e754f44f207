"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

from todo_api import __version__
from todo_api.auth import JwksCache, TokenValidator
from todo_api.database import Database
from todo_api.middleware import BodySizeLimitMiddleware, LivenessProbe, RequestContextMiddleware
from todo_api.problems import PROBLEM_JSON, install_problem_handlers
from todo_api.relay import Housekeeping, Relay
from todo_api.routes import activity, health, todos
from todo_api.settings import ApiSettings
from todo_common.database import create_db_engine
from todo_common.queue import sns_client
from todo_common.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

DESCRIPTION = """\
The Todo API. Errors are RFC 9457 `application/problem+json` documents carrying
the request id (also in the `X-Request-ID` response header). The list is a bare
JSON array, newest first; the next page's URL is in the `Link` response header.
"""


def token_validator(settings: ApiSettings) -> TokenValidator:
    """The access-token check of ``settings``' issuer and client (docs/auth.md)."""
    return TokenValidator(
        issuer=settings.auth_issuer,
        client_ids=settings.client_ids,
        keys=JwksCache(settings.jwks_url),
        leeway=settings.auth_leeway_seconds,
    )


class TodoApi(FastAPI):
    """FastAPI, with the liveness probe answered before FastAPI's own layers run.

    Those layers (telemetry, error, body-limit and exception middleware, the router) cost
    the probe four times what the server does; the probe needs none of them."""

    liveness: LivenessProbe | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.liveness is not None and self.liveness.answers(scope):
            await self.liveness(scope, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: ApiSettings, engine: Engine | None = None) -> TodoApi:
    """Build the API on ``engine`` (made from ``settings`` if not given).

    On PostgreSQL the requests run on an engine of their own made from ``settings`` beside
    ``engine`` (todo_api.database); ``engine`` serves the relay and the migrations.

    The lifespan closes the engine's pool at shutdown, after uvicorn has let
    the in-flight requests finish.
    """
    db = engine if engine is not None else create_db_engine(settings)
    database = Database.beside(db, settings)
    units, connections = database.units, database.connections
    relay: Relay | None = None
    if settings.events_topic_arn:
        relay = Relay(
            UnitOfWorkFactory(db),
            # Short reads: a hung SNS call must not hold the relay (or shutdown) long.
            sns_client(settings, read_timeout=10),
            settings.events_topic_arn,
            batch_size=settings.relay_batch_size,
            poll_interval=settings.relay_poll_interval_seconds,
            max_backoff=settings.relay_max_backoff_seconds,
            housekeeping=Housekeeping(
                retention=timedelta(hours=settings.outbox_retention_hours),
                metrics_namespace=settings.metrics_namespace,
                service_name=settings.service_name,
            ),
        )
        units.on_events = relay.notify

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # SQLite's units of work run in worker threads (todo_api.database): no more of them
        # than pooled connections, so requests queue on the event loop (cheap) instead of in
        # threads blocked on the pool (and its timeout).
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = connections
        await anyio.to_thread.run_sync(app.state.token_validator.keys.warm)
        if relay is not None:
            relay.start()
        yield
        if relay is not None:
            relay.stop()
        await database.close()
        db.dispose()
        log.info("database pool closed")

    app = TodoApi(
        # FastAPI's own OpenTelemetry: a server span per request once a tracer provider is
        # installed (todo_common.tracing), none for the liveness probe. Only the request span:
        # the operation spans (dependencies, serialization) would cost more than they show,
        # and metrics and logs go to CloudWatch their own way.
        telemetry={
            "operation_spans": False,
            "metrics": False,
            "logs": False,
            "exclude": lambda scope: scope.get("path") == health.LIVENESS_PATH,
        },
        title="Todo API",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=lifespan,
    )
    app.state.engine = db
    app.state.database = database
    app.state.token_validator = token_validator(settings)
    app.state.relay = relay
    app.include_router(todos.router)
    app.include_router(activity.router)
    app.include_router(health.router)
    app.state.api_routes = [*todos.router.routes, *activity.router.routes, *health.router.routes]
    install_problem_handlers(app)
    # Added last runs first: the request id exists before the body is checked.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    app.liveness = LivenessProbe(path=health.LIVENESS_PATH, body=health.LIVE)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = problem_json_errors(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def problem_json_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Document every 4xx/5xx as ``application/problem+json`` with the Problem
    schema, replacing FastAPI's default 422 body (which this API never sends)."""
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for code, response in operation.get("responses", {}).items():
                if code.isdigit() and int(code) >= 400:
                    response["content"] = {PROBLEM_JSON: {"schema": problem_ref}}
                    if code == "422":
                        response["description"] = (
                            "The body or a parameter fails validation; `errors` names the fields."
                        )
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema
