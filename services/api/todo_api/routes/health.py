"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from sqlalchemy.exc import SQLAlchemyError

from todo_api.problems import DATABASE_UNAVAILABLE, ProblemError
from todo_api.routes.common import UNAVAILABLE, JsonRoute, database
from todo_api.schemas import Health

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["health"], route_class=JsonRoute)

LIVENESS_PATH = "/api/health"
# The liveness answer, served by todo_api.middleware.LivenessProbe ahead of the framework.
LIVE = Health(status="ok").model_dump_json().encode()


@router.get(LIVENESS_PATH.removeprefix(router.prefix), summary="Liveness: the process serves")
async def health() -> Health:
    """200 while the process serves requests. Calls no dependency: the load
    balancer's health check must not fail a task because the database blinked.

    A GET is answered by LivenessProbe before FastAPI runs (this function documents it)."""
    return Health(status="ok")


@router.get("/ready", summary="Readiness: the database answers", responses=UNAVAILABLE)
async def ready(request: Request) -> Health:
    """200 when a database round-trip succeeds (on the engine the requests use), 503 otherwise."""
    try:
        await database(request).ping()
    except SQLAlchemyError as error:
        log.warning("not ready: %s", type(error).__name__)
        raise ProblemError(
            503,
            "the database is not answering",
            type_=DATABASE_UNAVAILABLE,
            title="Database unavailable",
            headers={"Retry-After": "1"},
        ) from None
    return Health(status="ok")
