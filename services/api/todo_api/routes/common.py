"""What every route module shares: the JSON-only route class, the requests' database, the
page parameters and links, the JSON responses and the documented error responses."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Query, Request
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from starlette.responses import Response

from todo_api.database import Database
from todo_api.pagination import (
    MAX_CURSOR_LENGTH,
    InvalidCursorError,
    decode_cursor,
    encode_cursor,
)
from todo_api.problems import INVALID_CURSOR, FieldError, Problem, ProblemError
from todo_common.repository import Position


def is_json_media_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class JsonRoute(APIRoute):
    """A route whose request body, if it takes one, must be JSON (else 415).

    Checked after routing (so a wrong method is still a 405) and before the
    body is parsed.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def json_only(request: Request) -> Response:
            content_type = request.headers.get("content-type", "")
            if not is_json_media_type(content_type):
                shown = content_type.split(";", 1)[0].strip() or "none"
                raise ProblemError(
                    415,
                    f"Content-Type: must be application/json, got {shown}",
                    headers={"Accept-Post": "application/json"},
                )
            return await handler(request)

        return json_only


def database(request: Request) -> Database:
    """The requests' database (todo_api.database), kept in the application's state.

    A call, not a dependency: solved by FastAPI for every request, the dependency cost a create
    more than a tenth of what its own SQL statement's execution did (docs/performance.md)."""
    found = request.app.state.database
    if not isinstance(found, Database):  # pragma: no cover - wiring error
        raise TypeError("app.state.database is not a Database")
    return found


def problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


BAD_INPUT: dict[int | str, dict[str, Any]] = {
    400: problem("Malformed JSON or an invalid cursor."),
    422: problem("The body or a parameter fails validation; `errors` names the fields."),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: problem("No todo has this id.")}
BODY: dict[int | str, dict[str, Any]] = {
    413: problem("The body is over 64 KiB."),
    415: problem("The body is not application/json."),
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: problem("The database is not answering, or the issuer's signing keys cannot be read.")
}
SIGNED_IN: dict[int | str, dict[str, Any]] = {
    401: problem(
        "No access token, or one that is expired, forged, or for another issuer or client "
        "(`WWW-Authenticate` says which)."
    )
}


def page_start(cursor: str | None) -> Position | None:
    """Where a page starts: after the position the cursor names (None: the newest first)."""
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor)
    except InvalidCursorError:
        raise ProblemError(
            400,
            "cursor: is not a cursor this API issued",
            type_=INVALID_CURSOR,
            title="Invalid cursor",
            errors=[FieldError(field="cursor", message="is not a cursor this API issued")],
        ) from None


def link_next_page(request: Request, *, limit: int, last: Position) -> dict[str, str]:
    """The `Link: <...>; rel="next"` header of a list response whose page was full."""
    token = encode_cursor(last)
    return {"Link": f'<{request.url.path}?limit={limit}&cursor={token}>; rel="next"'}


# The query parameters and the Link header of every newest-first list.
MAX_PAGE_LIMIT = 100
PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT, description="Page size, 1 to 100.")]
PageCursor = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_LENGTH,
        description="Opaque: copy it from the previous page's `Link` header.",
    ),
]
Row = TypeVar("Row")
Body = TypeVar("Body")
JSON = "application/json"


def next_page_header(example: str) -> dict[str, Any]:
    """OpenAPI for the Link header; ``example`` is the path and query of a next page."""
    return {
        "Link": {
            "description": (
                f'The next page, `<{example}&cursor=...>; rel="next"`; absent on the last page.'
            ),
            "schema": {"type": "string"},
        }
    }


def paginate(
    rows: Sequence[Row],
    *,
    limit: int,
    request: Request,
    position: Callable[[Row], Position],
) -> tuple[Sequence[Row], dict[str, str]]:
    """The page of ``rows`` (fetched with limit + 1) and its headers: the Link to the next
    page, if more follow."""
    page = rows[:limit]
    if len(rows) > limit:
        return page, link_next_page(request, limit=limit, last=position(page[-1]))
    return page, {}


def json_response(
    adapter: TypeAdapter[Body],
    body: Any,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``body`` (model instances, or rows read by attribute) validated and serialized by
    ``adapter`` in one pass, in the caller's worker thread.

    Returning a Response skips FastAPI's own pass over the return value: a second validation,
    which for a plain ``def`` route runs in one more worker thread. The route's
    ``response_model`` still documents the body."""
    # By attribute name only: with aliases allowed too, every field of every row would first be
    # looked up by its camelCase alias and raise AttributeError (the most costly part of a page).
    value = adapter.validate_python(body, from_attributes=True, by_alias=False, by_name=True)
    content = adapter.dump_json(value, by_alias=True)
    return Response(content, status_code=status_code, headers=headers, media_type=JSON)
