"""``/api/activity``: what the queue worker recorded, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from todo_api.pagination import MAX_CURSOR_LENGTH
from todo_api.routes.common import (
    BAD_INPUT,
    UNAVAILABLE,
    JsonRoute,
    Uow,
    link_next_page,
    page_start,
)
from todo_api.schemas import ActivityOut
from todo_common.repository import Position

router = APIRouter(prefix="/api/activity", tags=["activity"], route_class=JsonRoute)

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@router.get(
    "",
    summary="List processed events, newest first",
    response_model=list[ActivityOut],
    responses={
        200: {
            "description": (
                "A page of activity, newest first by `occurredAt` (a bare JSON array). "
                "Written asynchronously by the worker: a change shows up within seconds."
            ),
            "headers": {
                "Link": {
                    "description": (
                        'The next page, `</api/activity?limit=20&cursor=...>; rel="next"`; '
                        "absent on the last page."
                    ),
                    "schema": {"type": "string"},
                }
            },
        },
        **BAD_INPUT,
        **UNAVAILABLE,
    },
)
def list_activity(
    request: Request,
    response: Response,
    uow_factory: Uow,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1 to 100.")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR_LENGTH,
            description="Opaque: copy it from the previous page's `Link` header.",
        ),
    ] = None,
) -> list[ActivityOut]:
    after = page_start(cursor)
    with uow_factory() as uow:
        rows = uow.activity.list_page(limit + 1, after)
    page = rows[:limit]
    if len(rows) > limit:
        last = page[-1]
        link_next_page(
            request,
            response,
            limit=limit,
            last=Position(created_at=last.occurred_at, id=last.event_id),
        )
    return [ActivityOut.model_validate(row) for row in page]
