from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from app import __version__
from app.database.connection import create_engine
from app.database.migrations import downgrade_async, upgrade_async
from app.main import create_app
from tests.conftest import Harness, base_settings, make_client
from tests.support.clock import FakeClock
from tests.support.mail import Mailbox

UNREACHABLE_DB = "postgresql+psycopg://nobody@127.0.0.1:1/nothing"


async def test_health_is_cheap_and_public(harness: Harness) -> None:
    response = await harness.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


async def test_ready_reflects_the_database(harness: Harness) -> None:
    ok = await harness.client.get("/health/ready")
    assert ok.status_code == 200
    assert ok.json() == {"status": "ok", "database": "ok", "migrations": "current"}
    broken = create_async_engine(UNREACHABLE_DB, connect_args={"connect_timeout": 1})
    working = harness.ctx.sessionmaker
    harness.ctx.sessionmaker = async_sessionmaker(broken, class_=AsyncSession)
    try:
        harness.clock.advance(seconds=1)  # past the cached answer
        down = await harness.client.get("/health/ready")
    finally:
        harness.ctx.sessionmaker = working
        await broken.dispose()
    assert down.status_code == 503
    assert down.json() == {"status": "down", "database": "down", "migrations": "unknown"}


async def test_ready_asks_the_database_at_most_once_a_second(harness: Harness) -> None:
    def queries() -> int:
        return harness.ctx.db_monitor.query_stats().count

    # The webhook dispatcher polls the same database on its own clock: stopped
    # here, so every statement counted is the probe's.
    await harness.app.state.webhook_dispatcher.stop()
    harness.clock.advance(seconds=5)  # whatever came before, the next call probes
    before = queries()
    await harness.client.get("/health/ready")
    per_probe = queries() - before
    assert per_probe > 0
    answers = await asyncio.gather(*(harness.client.get("/health/ready") for _ in range(20)))
    assert {a.status_code for a in answers} == {200}
    harness.clock.advance(seconds=0.9)
    await harness.client.get("/health/ready")
    assert queries() - before == per_probe  # 21 more answers, no more queries
    harness.clock.advance(seconds=0.2)
    concurrent = await asyncio.gather(*(harness.client.get("/health/ready") for _ in range(5)))
    assert {a.status_code for a in concurrent} == {200}
    assert queries() - before == 2 * per_probe  # five concurrent calls share one probe


async def test_ready_answers_503_while_the_schema_is_behind(scratch_database_url: str) -> None:
    settings = base_settings(scratch_database_url)
    await upgrade_async(settings)
    clock = FakeClock()
    app = create_app(settings, clock=clock, email_sender=Mailbox())
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(make_client(app))
        assert (await client.get("/health/ready")).status_code == 200
        # A rollback of the schema under a running service (or a release deployed
        # before its migration ran) makes it unready within a second.
        await downgrade_async(settings, "base")
        clock.advance(seconds=1)
        behind = await client.get("/health/ready")
        assert behind.status_code == 503
        assert behind.json() == {"status": "down", "database": "ok", "migrations": "behind"}
        await upgrade_async(settings)
        clock.advance(seconds=1)
        assert (await client.get("/health/ready")).json()["migrations"] == "current"


async def test_start_up_refuses_an_unmigrated_database(scratch_database_url: str) -> None:
    app = create_app(base_settings(scratch_database_url), email_sender=Mailbox())
    with pytest.raises(RuntimeError) as excinfo:
        async with app.router.lifespan_context(app):
            pass
    message = str(excinfo.value)
    assert "\n" not in message and "run `backend migrate`" in message
    assert message.startswith("database schema is behind: at no revision (never migrated)")


async def test_start_up_fails_fast_without_a_database() -> None:
    app = create_app(base_settings(UNREACHABLE_DB))
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="database unreachable"):
        async with app.router.lifespan_context(app):
            pass
    assert time.perf_counter() - start < 10


async def test_a_schema_migrated_by_a_newer_release_still_serves(
    scratch_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rolling deploy migrates before the last old instance stops: those keep serving."""
    settings = base_settings(scratch_database_url, LOG_LEVEL="INFO")
    await upgrade_async(settings)
    engine = create_engine(settings)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    await engine.dispose()
    app = create_app(settings, email_sender=Mailbox())
    async with app.router.lifespan_context(app), make_client(app) as client:
        ready = await client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["migrations"] == "ahead"
    assert '"event": "database_schema_ahead"' in capsys.readouterr().err
