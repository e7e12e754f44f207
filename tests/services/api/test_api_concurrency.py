"""50 parallel creates and updates through a real server: nothing lost, no errors."""

from __future__ import annotations

import asyncio
import uuid

import httpx2
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.support.databases import Database
from tests.support.issuer import USER, Issuer
from tests.support.live_server import serve_in_thread
from todo_common.models import Todo

PARALLEL = 50


async def _burst(
    base_url: str, headers: dict[str, str]
) -> tuple[list[httpx2.Response], list[httpx2.Response], str]:
    limits = httpx2.Limits(max_connections=PARALLEL)
    async with httpx2.AsyncClient(
        base_url=base_url, limits=limits, timeout=30, headers=headers
    ) as client:
        creates = await asyncio.gather(
            *(client.post("/api/todos", json={"text": f"todo {i}"}) for i in range(PARALLEL))
        )
        shared = creates[0].json()["id"]
        # Half rename the same todo, half toggle it, all at once; plus one
        # update of each other todo, interleaved.
        updates = await asyncio.gather(
            *(
                client.put(
                    f"/api/todos/{shared}",
                    json={"text": f"renamed {i}"} if i % 2 else {"completed": i % 4 == 0},
                )
                for i in range(PARALLEL)
            ),
            *(
                client.put(f"/api/todos/{todo.json()['id']}", json={"completed": True})
                for todo in creates[1:]
            ),
        )
    return list(creates), list(updates), str(shared)


def test_parallel_creates_and_updates_lose_nothing(
    app: FastAPI, db: Database, issuer: Issuer
) -> None:
    with serve_in_thread(app) as base_url:
        creates, updates, shared = asyncio.run(_burst(base_url, issuer.headers(USER)))

    assert [r.status_code for r in creates] == [201] * PARALLEL
    assert [r.status_code for r in updates] == [200] * (2 * PARALLEL - 1)
    created_ids = {r.json()["id"] for r in creates}
    assert len(created_ids) == PARALLEL

    with Session(db.engine) as session:
        rows = {str(todo.id): todo for todo in session.scalars(select(Todo))}
    assert set(rows) == created_ids
    # Every one of the 50 updates of the shared todo was applied on top of the
    # previous one (row lock / write transaction): none overwrote another.
    assert rows[shared].version == 1 + PARALLEL
    assert rows[shared].text in {f"renamed {i}" for i in range(1, PARALLEL, 2)}
    others = [todo for key, todo in rows.items() if key != shared]
    assert all(todo.completed and todo.version == 2 for todo in others)
    assert all(todo.id == uuid.UUID(key) for key, todo in rows.items())
