"""``/api/todos``: the Todo resource."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from todo_api.auth import CurrentUser
from todo_api.problems import NOT_FOUND, ProblemError
from todo_api.routes.common import (
    BAD_INPUT,
    BODY,
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
from todo_api.routes.common import NOT_FOUND as NOT_FOUND_RESPONSE
from todo_api.schemas import TODO, TODO_PAGE, TodoCreate, TodoOut, TodoUpdate
from todo_common import todos
from todo_common.models import Todo
from todo_common.repository import Position
from todo_common.uow import UnitOfWork

# Every route answers only for the signed-in user's own todos: another user's id is a 404.
router = APIRouter(
    prefix="/api/todos", tags=["todos"], route_class=JsonRoute, responses={**SIGNED_IN}
)

DEFAULT_LIMIT = 50

# A str, not a UUID: a malformed id is "no such todo" (404), not a 422.
TodoId = Annotated[
    str,
    Path(
        description="The todo's id (a UUID); anything else is a 404.",
        json_schema_extra={"format": "uuid"},
    ),
]


def _parse_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise _not_found(raw) from None


def _not_found(raw: str) -> ProblemError:
    shown = raw if len(raw) <= 64 else raw[:61] + "..."
    return ProblemError(404, f"id: no todo {shown!r}", type_=NOT_FOUND, title="Todo not found")


@router.get(
    "",
    summary="List todos, newest first",
    response_model=list[TodoOut],
    responses={
        200: {
            "description": "A page of todos, newest first (a bare JSON array).",
            "headers": next_page_header("/api/todos?limit=50"),
        },
        **BAD_INPUT,
        **UNAVAILABLE,
    },
)
async def list_todos(
    *,
    request: Request,
    user: CurrentUser,
    limit: PageLimit = DEFAULT_LIMIT,
    cursor: PageCursor = None,
) -> Response:
    after = page_start(cursor)
    db = database(request)
    rows = await db.read(lambda uow: todos.list_todos(uow, limit + 1, after, owner=user.subject))
    page, headers = paginate(
        rows,
        limit=limit,
        request=request,
        position=lambda todo: Position(created_at=todo.created_at, id=todo.id),
    )
    return json_response(TODO_PAGE, page, headers=headers)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a todo",
    response_model=TodoOut,
    responses={
        201: {
            "description": "Created.",
            "headers": {
                "Location": {"description": "The new todo's URL.", "schema": {"type": "string"}}
            },
        },
        **BAD_INPUT,
        **BODY,
        **UNAVAILABLE,
    },
)
async def create_todo(body: TodoCreate, request: Request, user: CurrentUser) -> Response:
    db = database(request)
    new = await db.write(lambda uow: todos.create_todo(uow, body.text, owner=user.subject))
    location = {"Location": f"{router.prefix}/{new.id}"}
    return json_response(TODO, new, status_code=status.HTTP_201_CREATED, headers=location)


@router.get(
    "/{todo_id}",
    summary="Get a todo",
    response_model=TodoOut,
    responses={**NOT_FOUND_RESPONSE, **UNAVAILABLE},
)
async def get_todo(todo_id: TodoId, request: Request, user: CurrentUser) -> Response:
    key = _parse_id(todo_id)
    db = database(request)
    todo = await db.read(lambda uow: todos.get_todo(uow, key, owner=user.subject))
    if todo is None:
        raise _not_found(todo_id)
    return json_response(TODO, todo)


@router.put(
    "/{todo_id}",
    summary="Update a todo's text and/or completed flag",
    response_model=TodoOut,
    responses={**BAD_INPUT, **NOT_FOUND_RESPONSE, **BODY, **UNAVAILABLE},
)
async def update_todo(
    todo_id: TodoId, body: TodoUpdate, request: Request, user: CurrentUser
) -> Response:
    key = _parse_id(todo_id)

    def update(uow: UnitOfWork) -> Todo:
        todo = todos.update_todo(
            uow, key, owner=user.subject, text=body.text, completed=body.completed
        )
        if todo is None:
            raise _not_found(todo_id)
        return todo

    return json_response(TODO, await database(request).write(update))


@router.delete(
    "/{todo_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a todo",
    response_class=Response,
    responses={**NOT_FOUND_RESPONSE, **UNAVAILABLE},
)
async def delete_todo(todo_id: TodoId, request: Request, user: CurrentUser) -> None:
    key = _parse_id(todo_id)

    def delete(uow: UnitOfWork) -> None:
        if not todos.delete_todo(uow, key, owner=user.subject):
            raise _not_found(todo_id)

    await database(request).write(delete)
