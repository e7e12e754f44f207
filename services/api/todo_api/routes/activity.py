"""``/api/activity``: what the queue worker recorded, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from todo_api.pagination import MAX_CURSOR_LENGTH, InvalidCursorError, decode_cursor, encode_cursor
from todo_api.problems import INVALID_CURSOR, FieldError, ProblemError
from todo_api.routes.common import BAD_INPUT, UNAVAILABLE, JsonRoute, Uow
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
    after: Position | None = None
    if cursor is not None:
        try:
            after = decode_cursor(cursor)
        except InvalidCursorError:
            raise ProblemError(
                400,
                "cursor: is not a cursor this API issued",
                type_=INVALID_CURSOR,
                title="Invalid cursor",
                errors=[FieldError(field="cursor", message="is not a cursor this API issued")],
            ) from None
    with uow_factory() as uow:
        rows = uow.activity.list_page(limit + 1, after)
    page = rows[:limit]
    if len(rows) > limit:
        last = page[-1]
        token = encode_cursor(Position(created_at=last.occurred_at, id=last.event_id))
        response.headers["Link"] = f'<{request.url.path}?limit={limit}&cursor={token}>; rel="next"'
    return [ActivityOut.model_validate(row) for row in page]
