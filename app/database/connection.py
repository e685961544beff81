"""Async engine and sessions. SQLite and PostgreSQL share this code; dialect bits live here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel.ext.asyncio.session import AsyncSession

from app.config import Settings

SQLITE_BUSY_TIMEOUT_MS = 15_000
# How long a request waits for a pooled connection before its 503.
POOL_TIMEOUT_SECONDS = 10
T = TypeVar("T")


def create_engine(settings: Settings, **overrides: Any) -> AsyncEngine:
    """Build the engine for `settings.database_url` with sane pool and driver options."""
    url = make_url(settings.database_url)
    # A fixed pool, no overflow: an overflow connection is closed when it comes back
    # to a full idle queue, and under asyncio many come back in one loop turn, so a
    # busy worker kept opening and closing connections (a PostgreSQL backend start
    # and re-prepared statements each time).
    pool: dict[str, Any] = {
        "pool_size": settings.DATABASE_POOL_SIZE,
        "max_overflow": 0,
        "pool_timeout": POOL_TIMEOUT_SECONDS,
    }
    options: dict[str, Any]
    if url.get_backend_name() == "sqlite":
        options = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
        if url.database and url.database != ":memory:":  # in memory: one shared connection
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            options |= pool
    else:
        options = pool | {"pool_pre_ping": True, "pool_recycle": 1800}
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


class SQLiteWriter:
    """SQLite's hot write transactions, queued in process and run whole in one thread.

    SQLite has one writer per file. Through the async driver every statement
    costs several hand-offs between the event loop and the driver's thread
    (cursor, execute, fetch, close), each a wake-up and a GIL hand-over, and
    writers that meet the file lock sleep in SQLite's busy handler with
    growing pauses: under load a few requests waited seconds. Here a write
    transaction is one function run on a single thread with a plain sqlite3
    connection: one hand-off per transaction, and writers wait their turn in
    the executor's queue (first come, first served) instead of on the lock.
    """

    def __init__(self, url: str) -> None:
        sync_url = make_url(url).set(drivername="sqlite+pysqlite")
        self._engine = create_sync_engine(
            sync_url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            hide_parameters=True,
        )
        event.listen(self._engine, "connect", _sqlite_on_connect)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one transaction (committed when it returns, rolled back if it raises)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._transaction, work)

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        with self._engine.begin() as connection:
            return work(connection)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._engine.dispose()


def sqlite_writer(settings: Settings) -> SQLiteWriter | None:
    """The in-process writer for SQLite databases; None for PostgreSQL (row locks suffice)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return SQLiteWriter(settings.database_url)
