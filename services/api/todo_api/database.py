"""Where the API runs its units of work: on the event loop (PostgreSQL) or in a thread (SQLite).

The units of work, repositories and use cases (todo_common) are synchronous code, shared with
the worker. On PostgreSQL the API runs them in a greenlet on the event loop, on an engine whose
connections are psycopg's asyncio connections (todo_common.database.create_event_loop_engine):
each wait for the database suspends that greenlet and lets the loop serve other requests.
That is SQLAlchemy's own asyncio bridge (``sqlalchemy.util.greenlet_spawn``, on which
``AsyncConnection.run_sync`` runs), entered once per unit of work.

Why not a worker thread per unit of work, as FastAPI runs a plain ``def`` route: under load the
event loop and the threads contend for the GIL after every database round trip. Measured with
``make bench-api`` (2 cores, 32 connections), a create cost about 1,450 µs of CPU that way and
about 980 µs on the loop, and the API served about half again as many creates and a quarter
more pages a second (docs/performance.md).

SQLite has no asyncio driver here; its units of work run in worker threads, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from todo_common.database import create_event_loop_engine, ping
from todo_common.settings import CommonSettings
from todo_common.uow import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")


class Database:
    """Runs ``work(units)`` for a request, where it does not hold up the event loop.

    ``units`` opens units of work on the engine the requests use. ``loop_engine`` (PostgreSQL):
    the asyncio engine behind ``units``, whose work runs on the loop; None (SQLite): the work
    runs in a worker thread."""

    def __init__(
        self, units: UnitOfWorkFactory, *, loop_engine: AsyncEngine | None, connections: int
    ) -> None:
        if loop_engine is not None and units.engine is not loop_engine.sync_engine:
            raise ValueError("units must open their units of work on loop_engine")
        self.units = units
        self.loop_engine = loop_engine
        self.connections = connections
        # No more units of work at once than the pool has connections: the others wait here,
        # in order and for as long as it takes, not in the pool (which gives up after
        # DATABASE_POOL_TIMEOUT_SECONDS). Made on the loop that first needs it.
        self._slots: asyncio.Semaphore | None = None

    @classmethod
    def beside(cls, engine: Engine, settings: CommonSettings) -> Database:
        """The requests' database for ``settings``, beside ``engine`` (which serves the relay
        and the migrations): on PostgreSQL on an asyncio engine of its own, sharing
        ``engine``'s secret credentials; on SQLite in worker threads on ``engine``."""
        loop_engine = create_event_loop_engine(settings, beside=engine)
        if loop_engine is not None and loop_engine.sync_engine.url != engine.url:
            # The requests would write to one database and the relay publish from another.
            raise ValueError("engine is not the database settings name")
        units = UnitOfWorkFactory(loop_engine.sync_engine if loop_engine is not None else engine)
        connections = settings.database_pool_size + settings.database_max_overflow
        return cls(units, loop_engine=loop_engine, connections=connections)

    @property
    def on_event_loop(self) -> bool:
        return self.loop_engine is not None

    async def run(self, work: Callable[[UnitOfWorkFactory], T]) -> T:
        """``work(self.units)``'s result; whatever it raises, raised here."""
        if self.loop_engine is None:
            # The threads are bounded the same way (the lifespan sets anyio's thread limiter).
            return await anyio.to_thread.run_sync(work, self.units)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.connections)
        async with self._slots:
            result: T = await greenlet_spawn(work, self.units)
        return result

    async def read(self, use_case: Callable[[UnitOfWork], T]) -> T:
        """``use_case`` in a read unit of work; its result."""

        def read(units: UnitOfWorkFactory) -> T:
            with units() as uow:
                return use_case(uow)

        return await self.run(read)

    async def write(self, use_case: Callable[[UnitOfWork], T]) -> T:
        """``use_case`` in a write unit of work, committed once it returns; its result. Nothing
        commits if it raises (a 404 raised inside, say)."""

        def write(units: UnitOfWorkFactory) -> T:
            with units(write=True) as uow:
                result = use_case(uow)
                uow.commit()
                return result

        return await self.run(write)

    async def ping(self) -> None:
        """A round trip on the requests' engine; raises if the database does not answer."""
        await self.run(lambda units: ping(units.engine))

    async def close(self) -> None:
        """Close the requests' own pool, if any (at shutdown, once the requests have finished);
        the engine it was made beside is its owner's to dispose."""
        self._slots = None
        if self.loop_engine is not None:
            await self.loop_engine.dispose()
