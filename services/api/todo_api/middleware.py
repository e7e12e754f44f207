"""Pure ASGI middleware: request id + access log + last-resort 500, body limit; and the
liveness answer, which the application serves ahead of all of them.

All are plain ASGI (no BaseHTTPMiddleware): they add no task per request and
never buffer a response.
"""

from __future__ import annotations

import logging
import os
import random
import re
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api.problems import problem_response
from todo_common.logs import log_fast, request_id_var

log = logging.getLogger("todo_api.access")
errors_log = logging.getLogger("todo_api.errors")

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_NAME = REQUEST_ID_HEADER.lower().encode()  # as ASGI servers give header names
# An incoming id is kept only if it is short and harmless in logs and headers.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


# Request ids are labels, not secrets: 128 bits from a generator seeded once by the system.
# uuid4 asks the system for every id (os.urandom), which lets go of the GIL; under load the
# event loop then waited for a worker thread to hand it back before it could answer.
_ids = random.Random(os.urandom(32))  # noqa: S311 - not used for anything secret
# A forked process (a pre-forking server) would otherwise repeat its parent's sequence.
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))


def new_request_id() -> str:
    return f"{_ids.getrandbits(128):032x}"


def request_id_of(scope: Scope) -> str:
    """The client's ``X-Request-ID`` if it is well-formed, else a new one."""
    for name, value in scope["headers"]:
        if name == _REQUEST_ID_NAME:
            incoming = value.decode("latin-1")
            return incoming if _VALID_REQUEST_ID.fullmatch(incoming) else new_request_id()
    return new_request_id()


def log_access(scope: Scope, status: int, started: float, request_id: str) -> None:
    """The one access line of a request (status 0: no response was sent)."""
    method, path = scope["method"], scope["path"]
    log_fast(
        log,
        f"{method} {path} {status}",
        request_id,
        {
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        },
    )


class RequestContextMiddleware:
    """Gives every request an id, logs one line per request, answers 500s.

    The id comes from the client's ``X-Request-ID`` when it is well-formed,
    else it is generated; it is echoed in the response header, stored in
    ``scope["state"]["request_id"]`` for the error handlers and in a context
    variable for every log line written while serving the request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            errors_log.exception("unhandled error serving %s %s", scope["method"], scope["path"])
            if status == 0:
                response = problem_response(
                    status=500,
                    detail="the server failed to handle this request; quote the request id",
                    instance=scope["path"],
                    request_id=request_id,
                )
                await response(scope, receive, send_with_id)
            else:  # the response had started: all we can do is cut it short
                raise
        finally:
            log_access(scope, status, started, request_id)
            request_id_var.reset(token)


class LivenessProbe:
    """Answers ``GET <path>`` with ``body``, ahead of the framework and every middleware.

    The load balancer probes every task every few seconds, and a liveness answer depends on
    nothing: it costs what the server costs, not what FastAPI's layers, routing and
    serialization cost. It keeps what every response has: its request id (header and access
    line). Other methods go on to the router (a 405 naming the allowed ones), and the route
    documents the answer in the OpenAPI document.
    """

    def __init__(self, *, path: str, body: bytes) -> None:
        self.path = path
        self.headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        self.body = body

    def answers(self, scope: Scope) -> bool:
        return bool(
            scope["type"] == "http" and scope["path"] == self.path and scope["method"] == "GET"
        )

    async def __call__(self, scope: Scope, send: Send) -> None:
        started = time.perf_counter()
        request_id = request_id_of(scope)
        status = 0
        try:
            headers = [*self.headers, (_REQUEST_ID_NAME, request_id.encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            status = 200
            await send({"type": "http.response.body", "body": self.body})
        finally:
            log_access(scope, status, started, request_id)


class BodySizeLimitMiddleware:
    """413 for a body over ``max_bytes``, decided before anything parses it.

    A declared ``Content-Length`` over the limit is refused without reading, and one within it
    is passed on as it comes: HTTP/1.1 framing ends the body there (uvicorn's parsers hand on
    exactly the declared bytes; a client that hangs up before them is FastAPI's 400). A body
    of unknown length (chunked, or a length that is not a number) is read (at most
    ``max_bytes`` + one chunk) and handed on whole, so handlers never see a partial body.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if not chunked and (declared is None or (declared.isascii() and declared.isdigit())):
            # No body, or one that ends where it says it does.
            if declared is not None and int(declared) > self.max_bytes:
                await self._too_large(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        await self._read_whole(scope, receive, send)

    async def _read_whole(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A body of unknown length, read up to the limit and handed on whole."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            status=413,
            detail=f"body: must be at most {self.max_bytes} bytes",
            instance=scope["path"],
            request_id=str(scope.get("state", {}).get("request_id", "")),
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
