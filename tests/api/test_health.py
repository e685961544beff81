from __future__ import annotations

import time

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from app import __version__
from app.main import create_app
from tests.conftest import Harness, base_settings

UNREACHABLE_DB = "postgresql+psycopg://nobody@127.0.0.1:1/nothing"


async def test_health_is_cheap_and_public(harness: Harness) -> None:
    response = await harness.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


async def test_ready_reflects_the_database(harness: Harness) -> None:
    ok = await harness.client.get("/health/ready")
    assert ok.status_code == 200 and ok.json() == {"status": "ok", "database": "ok"}
    broken = create_async_engine(UNREACHABLE_DB, connect_args={"connect_timeout": 1})
    working = harness.ctx.sessionmaker
    harness.ctx.sessionmaker = async_sessionmaker(broken, class_=AsyncSession)
    try:
        down = await harness.client.get("/health/ready")
    finally:
        harness.ctx.sessionmaker = working
        await broken.dispose()
    assert down.status_code == 503
    assert down.json() == {"status": "down", "database": "down"}


async def test_start_up_fails_fast_without_a_database() -> None:
    app = create_app(base_settings(UNREACHABLE_DB))
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="database unreachable"):
        async with app.router.lifespan_context(app):
            pass
    assert time.perf_counter() - start < 10
