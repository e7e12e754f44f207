"""RFC 9457 problem details: every error the API sends has this shape.

``{"type", "title", "status", "detail", "instance", "requestId"}`` plus
``errors: [{"field", "message"}]`` for validation problems. ``detail`` is a
sentence naming the field(s), fit to show to a user.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:todo:problem:"
VALIDATION = TYPE_PREFIX + "validation-error"
MALFORMED_JSON = TYPE_PREFIX + "malformed-json"
INVALID_CURSOR = TYPE_PREFIX + "invalid-cursor"
NOT_FOUND = TYPE_PREFIX + "not-found"
DATABASE_UNAVAILABLE = TYPE_PREFIX + "database-unavailable"
BLANK = "about:blank"


class FieldError(BaseModel):
    field: str = Field(description="The offending field: a body member or a query parameter.")
    message: str = Field(description="What is wrong with it.")


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "type": VALIDATION,
                "title": "Validation failed",
                "status": 422,
                "detail": "text: must not be blank",
                "instance": "/api/todos",
                "requestId": "5f0c8c3e0d6b4a0f9f8e2a1b3c4d5e6f",
                "errors": [{"field": "text", "message": "must not be blank"}],
            }
        }
    )

    type: str = Field(description="A URI naming the problem type; about:blank for plain HTTP.")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str = Field(description="The request path.")
    requestId: str = Field(description="Also sent as X-Request-ID; quote it in bug reports.")  # noqa: N815 - wire name
    errors: list[FieldError] | None = Field(
        default=None, description="Present on validation problems only."
    )


class ProblemError(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type_: str = BLANK,
        title: str | None = None,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_
        self.title = title or HTTPStatus(status).phrase
        self.errors = list(errors) if errors else None
        self.headers = dict(headers or {})


def problem_body(
    *,
    status: int,
    detail: str,
    instance: str,
    request_id: str,
    type_: str = BLANK,
    title: str | None = None,
    errors: Sequence[FieldError] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "requestId": request_id,
    }
    if errors:
        body["errors"] = [error.model_dump() for error in errors]
    return body


def problem_response(
    *,
    status: int,
    detail: str,
    instance: str,
    request_id: str,
    type_: str = BLANK,
    title: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = problem_body(
        status=status,
        detail=detail,
        instance=instance,
        request_id=request_id,
        type_=type_,
        title=title,
        errors=errors,
    )
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def request_id_of(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def _from_request(request: Request, error: ProblemError) -> JSONResponse:
    return problem_response(
        status=error.status,
        detail=error.detail,
        instance=request.url.path,
        request_id=request_id_of(request),
        type_=error.type,
        title=error.title,
        errors=error.errors,
        headers=error.headers,
    )


# ------------------------------------------------------------- validation
_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not an allowed field",
    "string_type": "must be a string",
    "string_unicode": "must be valid Unicode text",
    "bool_type": "must be a boolean",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "string_too_short": "must not be blank",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
}


def _field_name(loc: Sequence[int | str]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:] or parts[:1]
    return ".".join(parts) or "body"


def _message(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind in {"greater_than_equal", "greater_than"}:
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in {"less_than_equal", "less_than"}:
        return f"must be at most {ctx.get('le', ctx.get('lt'))}"
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def field_errors(raw: Sequence[Mapping[str, Any]]) -> list[FieldError]:
    errors: list[FieldError] = []
    for error in raw:
        item = FieldError(field=_field_name(error.get("loc", ())), message=_message(error))
        if item not in errors:
            errors.append(item)
    return errors


def describe(errors: Sequence[FieldError]) -> str:
    return "; ".join(f"{error.field}: {error.message}" for error in errors)


def _validation_problem(exc: RequestValidationError) -> ProblemError:
    raw = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in raw):
        return ProblemError(
            400,
            "body: is not valid JSON",
            type_=MALFORMED_JSON,
            title="Malformed JSON",
            errors=[FieldError(field="body", message="is not valid JSON")],
        )
    errors = field_errors(raw)
    return ProblemError(
        422, describe(errors), type_=VALIDATION, title="Validation failed", errors=errors
    )


def _http_problem(request: Request, exc: StarletteHTTPException) -> ProblemError:
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"{request.url.path} does not exist"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed = allowed_methods(request) or headers.get("Allow", "")
        headers["Allow"] = allowed
        detail = f"{request.method} is not allowed here; allowed: {allowed}"
    return ProblemError(exc.status_code, detail, headers=headers)


_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette reports only the
    first route's). Routes are listed in ``app.state.api_routes``."""
    methods: set[str] = set()
    for route in getattr(request.app.state, "api_routes", ()):
        if route.path_regex.match(request.url.path):
            methods |= route.methods or set()
    return ", ".join(sorted(methods, key=lambda m: (*_METHOD_ORDER, m).index(m)))


def _database_problem(exc: Exception) -> ProblemError:
    log.warning("database unavailable: %s", type(exc).__name__, exc_info=exc)
    return ProblemError(
        503,
        "the database is not answering; retry shortly",
        type_=DATABASE_UNAVAILABLE,
        title="Database unavailable",
        headers={"Retry-After": "1"},
    )


_DATABASE_ERRORS = (OperationalError, InterfaceError, PoolTimeoutError)


async def _handle(request: Request, exc: Exception) -> Response:
    """One handler for every registered type (Starlette types handlers loosely)."""
    if isinstance(exc, ProblemError):
        problem = exc
    elif isinstance(exc, RequestValidationError):
        problem = _validation_problem(exc)
    elif isinstance(exc, StarletteHTTPException):
        problem = _http_problem(request, exc)
    elif isinstance(exc, _DATABASE_ERRORS):
        problem = _database_problem(exc)
    else:  # not registered for anything else; the middleware answers 500
        raise exc
    return _from_request(request, problem)


def install_problem_handlers(app: FastAPI) -> None:
    for kind in (RequestValidationError, ProblemError, StarletteHTTPException, *_DATABASE_ERRORS):
        app.add_exception_handler(kind, _handle)
