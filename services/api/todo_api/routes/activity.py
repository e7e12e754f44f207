"""``/api/activity``: what the queue worker recorded, newest first."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from todo_api.auth import CurrentUser
from todo_api.routes.common import (
    BAD_INPUT,
    SIGNED_IN,
    UNAVAILABLE,
    JsonRoute,
    PageCursor,
    PageLimit,
    database,
    json_response,
    next_page_header,
    page_start,
    paginate,
)
from todo_api.schemas import ACTIVITY_PAGE, ActivityOut
from todo_common.repository import Position

# The signed-in user's activity only.
router = APIRouter(
    prefix="/api/activity", tags=["activity"], route_class=JsonRoute, responses={**SIGNED_IN}
)

DEFAULT_LIMIT = 20


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
            "headers": next_page_header("/api/activity?limit=20"),
        },
        **BAD_INPUT,
        **UNAVAILABLE,
    },
)
async def list_activity(
    *,
    request: Request,
    user: CurrentUser,
    limit: PageLimit = DEFAULT_LIMIT,
    cursor: PageCursor = None,
) -> Response:
    after = page_start(cursor)
    db = database(request)
    rows = await db.read(lambda uow: uow.activity.list_page(limit + 1, after, owner=user.subject))
    page, headers = paginate(
        rows,
        limit=limit,
        request=request,
        position=lambda row: Position(created_at=row.occurred_at, id=row.event_id),
    )
    return json_response(ACTIVITY_PAGE, page, headers=headers)
