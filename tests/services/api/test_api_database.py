"""Where the API runs its units of work (todo_api.database): on PostgreSQL, on the event loop
itself, never more at once than the pool has connections; on SQLite, in worker threads."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from tests.support import databases
from tests.support.databases import make_database
from todo_api.app import create_app
from todo_api.database import Database
from todo_common import todos
from todo_common.logs import request_id_var
from todo_common.uow import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")
USER = "user-1"


def database_of(db: databases.Database) -> Database:
    database = create_app(db.settings, db.engine).state.database
    assert isinstance(database, Database)
    return database


def on_a_loop(database: Database, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``main()`` on a new event loop, the database's pool closed after it."""

    async def run() -> T:
        try:
            return await main()
        finally:
            await database.close()

    return asyncio.run(run())


def test_a_unit_of_work_runs_on_the_loop_thread_on_postgres_and_in_a_worker_on_sqlite(
    db: databases.Database,
) -> None:
    database = database_of(db)

    async def main() -> tuple[int, int]:
        return threading.get_ident(), await database.run(lambda _: threading.get_ident())

    loop_thread, work_thread = on_a_loop(database, main)

    assert database.on_event_loop is (db.kind == "postgres")
    assert (work_thread == loop_thread) is (db.kind == "postgres")


@pytest.mark.postgres
def test_the_loop_serves_others_while_a_unit_of_work_waits_for_postgres(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    database = database_of(make_database("postgres", tmp_path, request))
    ticks = 0

    def slow(units: UnitOfWorkFactory) -> None:
        with units() as uow:
            uow.connection.execute(text("SELECT pg_sleep(0.3)"))

    async def ticking() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def main() -> None:
        ticker = asyncio.create_task(ticking())
        await database.run(slow)
        ticker.cancel()

    on_a_loop(database, main)

    # Blocked for the 0.3 s, the loop would have ticked once or not at all.
    assert ticks >= 10


@pytest.mark.postgres
def test_units_of_work_beyond_the_pool_wait_their_turn_instead_of_timing_out(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # One connection, given up after 0.2 s in the pool: six units of 0.1 s each, all at once.
    db = make_database(
        "postgres", tmp_path, request, database_pool_size=1, database_pool_timeout_seconds=0.2
    )
    database = database_of(db)

    def unit(units: UnitOfWorkFactory) -> int:
        with units() as uow:
            return int(uow.connection.execute(text("SELECT 1 FROM pg_sleep(0.1)")).scalar_one())

    async def main() -> list[int]:
        return list(await asyncio.gather(*(database.run(unit) for _ in range(6))))

    # Waiting in the pool instead, the third would give up after 0.2 s (sqlalchemy's
    # TimeoutError, a 503 to the client).
    assert on_a_loop(database, main) == [1] * 6


@pytest.mark.postgres
def test_a_cancelled_unit_of_work_stops_at_once_and_gives_its_connection_back(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # A request cancelled mid-statement (its client gone at shutdown, say).
    db = make_database("postgres", tmp_path, request, database_pool_size=1)
    database = database_of(db)

    def sleeps(units: UnitOfWorkFactory) -> None:
        with units() as uow:
            uow.connection.execute(text("SELECT pg_sleep(5)"))

    async def main() -> tuple[float, int, int]:
        unit = asyncio.create_task(database.run(sleeps))
        await asyncio.sleep(0.3)
        started = time.perf_counter()
        unit.cancel()
        with pytest.raises(asyncio.CancelledError):
            await unit
        stopped = time.perf_counter() - started
        out = int(database.units.engine.pool.checkedout())  # type: ignore[attr-defined]
        # The one connection and the one slot are free again: the next unit runs.
        after = await database.read(
            lambda uow: uow.connection.exec_driver_sql("SELECT 2").scalar_one()
        )
        return stopped, out, int(after)

    stopped, out, after = on_a_loop(database, main)
    assert stopped < 2  # not the statement's 5 s
    assert (out, after) == (0, 2)


def test_a_write_commits_only_when_its_use_case_returns(db: databases.Database) -> None:
    database = database_of(db)

    def create_then_fail(uow: UnitOfWork) -> None:
        todos.create_todo(uow, "never stored", owner=USER)
        raise LookupError("the use case gave up")

    async def main() -> int:
        with pytest.raises(LookupError, match="gave up"):
            await database.write(create_then_fail)
        await database.write(lambda uow: todos.create_todo(uow, "stored", owner=USER))
        pool = database.units.engine.pool
        return int(pool.checkedout())  # type: ignore[attr-defined] # a QueuePool, both kinds

    assert on_a_loop(database, main) == 0
    assert db.count() == 1


def test_a_unit_of_work_sees_the_requests_context(db: databases.Database) -> None:
    # The request id (and the current span) are context variables: log lines and outbox rows
    # written inside a unit of work must see the request's.
    database = database_of(db)

    async def main() -> str | None:
        request_id_var.set("req-42")
        return await database.run(lambda _: request_id_var.get())

    assert on_a_loop(database, main) == "req-42"


@pytest.mark.postgres
def test_units_must_open_on_the_loop_engine(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    db = make_database("postgres", tmp_path, request)
    loop_engine = database_of(db).loop_engine
    assert loop_engine is not None
    with pytest.raises(ValueError, match="loop_engine"):
        Database(UnitOfWorkFactory(db.engine), loop_engine=loop_engine, connections=1)
