"""The second ceiling: the API's list and create written minimally, on the same server.

One SQL statement each, through the same driver (psycopg 3) and the same pool (the engine
todo_common.database makes from the same settings), in a worker thread as the API runs its
database work; no ORM, no framework, no middleware, no token check. What the API costs on
top of this is what its layers cost: the figures the benchmark compares.

    uvicorn minimal_app:app      (settings from the environment, as the API reads them)
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread

from todo_common.database import create_db_engine
from todo_common.settings import CommonSettings

LIST = (
    "SELECT id, text, completed, created_at, updated_at FROM todos "
    "ORDER BY created_at DESC, id DESC LIMIT 50"
)
CREATE = (
    "INSERT INTO todos (id, text, completed, created_at, updated_at, version) "
    "VALUES (%s, %s, false, %s, %s, 1) RETURNING id, text, completed, created_at, updated_at"
)
_engine = create_db_engine(CommonSettings())


def _todo(row: tuple[Any, ...]) -> dict[str, Any]:
    key, text, completed, created, updated = row
    return {
        "id": str(key),
        "text": text,
        "completed": completed,
        "createdAt": created.isoformat(),
        "updatedAt": updated.isoformat(),
    }


def _list() -> bytes:
    connection = _engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(LIST)
        rows = cursor.fetchall()
        cursor.close()
    finally:
        connection.close()
    return json.dumps([_todo(tuple(row)) for row in rows]).encode()


def _create(body: bytes) -> bytes:
    text = str(json.loads(body)["text"])
    now = datetime.now(tz=UTC)
    connection = _engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(CREATE, (uuid.uuid4(), text, now, now))
        row = cursor.fetchone()
        cursor.close()
        connection.commit()
    finally:
        connection.close()
    if row is None:  # INSERT ... RETURNING always returns the row
        raise RuntimeError("the insert returned nothing")
    return json.dumps(_todo(tuple(row))).encode()


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            _engine.dispose()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["method"] == "POST":
        payload = await anyio.to_thread.run_sync(_create, await _body(receive))
        status = 201
    else:
        payload = await anyio.to_thread.run_sync(_list)
        status = 200
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
