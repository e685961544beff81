"""The connection pool keeps its connections under load instead of churning them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database.connection import create_engine
from app.models import WebhookEvent
from tests.conftest import Harness, base_settings


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


async def test_a_write_that_raises_leaves_nothing_and_no_connection(harness: Harness) -> None:
    """`ServiceContext.write` (the SQLite writer thread, or a pooled connection): a
    transaction whose work raises is rolled back and its connection handed back."""
    events: sa.Table = WebhookEvent.__table__  # type: ignore[attr-defined]
    row = {
        "id": uuid.uuid4(),
        "event": "register",
        "audit_id": uuid.uuid4(),
        "details": {},
        "created_at": datetime.now(UTC),
    }

    def insert_then_fail(connection: sa.Connection) -> None:
        connection.execute(sa.insert(events).values(**row))
        raise RuntimeError("after the insert")

    await harness.app.state.webhook_dispatcher.stop()  # its polls use the pool too
    await harness.settle()
    with pytest.raises(RuntimeError, match="after the insert"):
        await harness.ctx.write(insert_then_fail)
    assert harness.ctx.engine.pool.checkedout() == 0
    count = sa.select(sa.func.count()).select_from(events).where(events.c.id == row["id"])
    assert await harness.ctx.write(lambda connection: connection.execute(count).scalar()) == 0
