"""The second ceiling: the API's list and create written minimally, on the same server.

One SQL statement each, through the same driver (psycopg 3) and the same pool (the engine
todo_common.database makes from the same settings), run by the API's own runner
(todo_api.database): on PostgreSQL in a greenlet on the event loop, on psycopg's asyncio
connections; on SQLite in a worker thread. No ORM, no framework, no middleware, no token check.
The statements do the database work the API's do: the list reads one owner's newest 51 rows
(the API reads one more than a page, to know whether another follows) and the create writes
the todo and its outbox event in one statement. What the API costs on top of this is what its
layers cost: the figures the benchmark compares.

    uvicorn minimal_app:app      (settings from the environment, as the API reads them;
                                  BENCH_OWNER: whose todos, the benchmark's signed-in user)
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from todo_api.database import Database
from todo_common.database import create_db_engine
from todo_common.settings import CommonSettings

LIST = (
    "SELECT id, text, completed, created_at, updated_at FROM todos WHERE owner_id = %s "
    "ORDER BY created_at DESC, id DESC LIMIT 51"
)
CREATE = (
    "WITH new_todo AS (INSERT INTO todos "
    "(id, text, completed, created_at, updated_at, version, owner_id) "
    "VALUES (%(id)s, %(text)s, false, %(now)s, %(now)s, 1, %(owner)s)) "
    "INSERT INTO outbox (id, type, todo_id, occurred_at, schema_version, body, owner_id) "
    "VALUES (%(event)s, 'todo.created', %(id)s, %(now)s, 1, %(body)s, %(owner)s)"
)
OWNER = os.environ.get("BENCH_OWNER", "bench-user")
_settings = CommonSettings()
_blocking = create_db_engine(_settings)
# The API's own runner: the statements run where, and as many at once as, the API's do.
_database = Database.beside(_blocking, _settings)
_engine = _database.units.engine


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
        cursor.execute(LIST, (OWNER,))
        rows = cursor.fetchall()
        cursor.close()
    finally:
        connection.close()
    return json.dumps([_todo(tuple(row)) for row in rows[:50]]).encode()


def _create(body: bytes) -> bytes:
    text = str(json.loads(body)["text"])
    now = datetime.now(tz=UTC)
    todo = {"id": uuid.uuid4(), "text": text, "completed": False, "now": now}
    event = uuid.uuid4()
    message = {
        "eventId": str(event),
        "type": "todo.created",
        "todoId": str(todo["id"]),
        "occurredAt": now.isoformat(),
        "schemaVersion": 1,
        "text": text,
    }
    values = {**todo, "owner": OWNER, "event": event, "body": json.dumps(message)}
    connection = _engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(CREATE, values)
        cursor.close()
        connection.commit()
    finally:
        connection.close()
    return json.dumps(_todo((todo["id"], text, False, now, now))).encode()


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
            await _database.close()
            _blocking.dispose()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["method"] == "POST":
        body = await _body(receive)
        payload = await _database.run(lambda _: _create(body))
        status = 201
    else:
        payload = await _database.run(lambda _: _list())
        status = 200
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
