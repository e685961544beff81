"""The connection pool keeps its connections under load instead of churning them."""

from __future__ import annotations

import asyncio

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database.connection import create_engine
from tests.conftest import base_settings


async def test_bursts_reuse_the_pools_connections(database_url: str) -> None:
    """Every connection checked out at once, then all handed back in one loop turn,
    three times over: the pool opens each connection once. With overflow capacity,
    the returns beyond the idle queue's size were closed and the next burst opened
    them again (on PostgreSQL a new server process each time)."""
    settings = base_settings(database_url)
    size = settings.DATABASE_POOL_SIZE
    engine = create_engine(settings)
    opened = 0

    def count(*_: object) -> None:
        nonlocal opened
        opened += 1

    event.listen(engine.sync_engine, "connect", count)

    async def checked_out() -> AsyncConnection:
        connection = await engine.connect()
        await connection.execute(text("SELECT 1"))
        return connection

    try:
        for _ in range(3):
            connections = await asyncio.gather(*(checked_out() for _ in range(size)))
            await asyncio.gather(*(connection.close() for connection in connections))
        assert opened == size
        assert engine.pool.checkedout() == 0
    finally:
        await engine.dispose()


async def test_the_pool_never_opens_more_than_its_size(database_url: str) -> None:
    """DATABASE_POOL_SIZE bounds a worker's connections: one more waits for a return."""
    engine = create_engine(base_settings(database_url, DATABASE_POOL_SIZE=2))
    try:
        first, second = await engine.connect(), await engine.connect()
        third = asyncio.ensure_future(engine.connect())
        await asyncio.sleep(0.2)
        assert not third.done()
        await first.close()
        connection = await asyncio.wait_for(third, 5)
        await connection.close()
        await second.close()
    finally:
        await engine.dispose()
