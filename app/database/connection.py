"""Async engine and sessions. SQLite and PostgreSQL share this code; dialect bits live here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel.ext.asyncio.session import AsyncSession

from app.config import Settings

SQLITE_BUSY_TIMEOUT_MS = 15_000


def create_engine(settings: Settings, **overrides: Any) -> AsyncEngine:
    """Build the engine for `settings.database_url` with sane pool and driver options."""
    url = make_url(settings.database_url)
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        options = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    else:
        options |= {"pool_size": 10, "max_overflow": 10, "pool_timeout": 10, "pool_recycle": 1800}
        options["connect_args"] = {"connect_timeout": 5}
    # Statement logs and driver errors must never carry bound values (hashes, emails).
    options["hide_parameters"] = True
    options |= overrides
    engine = create_async_engine(url, **options)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    # WAL lets readers run beside the single writer; busy_timeout makes writers
    # queue instead of failing with "database is locked"; FKs are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def session_scope(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One session per request; rolled back if the use-case did not commit."""
    async with sessionmaker() as session:
        yield session


class WriteQueue:
    """Hot write paths of this process take turns here (SQLite only; a no-op elsewhere).

    SQLite has one writer per file. Writers that meet its lock wait in SQLite's
    busy handler, which sleeps and retries with growing pauses: under load, a
    few unlucky requests wait seconds while others pass. Queued in process
    (an asyncio lock is first come, first served), each waits only for the
    writes ahead of it. PostgreSQL locks rows, so its writers never queue here.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    async def __aenter__(self) -> None:
        if self._lock is not None:
            await self._lock.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._lock is not None:
            self._lock.release()
