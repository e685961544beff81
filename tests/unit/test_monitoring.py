"""Query monitoring hooks: cheap, bounded, and never keeping parameters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.database import monitoring
from app.database.monitoring import DatabaseMonitor, statement_shape


class StepTimer:
    """Each read advances by `step` seconds, so every statement takes `step`."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    yield engine
    await engine.dispose()


@pytest.mark.parametrize(
    ("statement", "shape"),
    [
        (
            "SELECT * FROM users WHERE email = 'ada@example.com'",
            "SELECT * FROM users WHERE email = ?",
        ),
        ("SELECT 1", "SELECT ?"),
        ("SELECT a FROM t WHERE x = 'it''s' AND y = 42.5", "SELECT a FROM t WHERE x = ? AND y = ?"),
        ("SELECT pg_advisory_lock(1635087464)", "SELECT pg_advisory_lock(?)"),
        ("SELECT t.a_1 FROM t WHERE t.id = %(id_1)s", "SELECT t.a_1 FROM t WHERE t.id = %(id_1)s"),
        ("SELECT a FROM t WHERE id IN (?, ?, ?)", "SELECT a FROM t WHERE id IN (...)"),
        (
            "SELECT a FROM t WHERE id IN (%(id_1_1)s, %(id_1_2)s)",
            "SELECT a FROM t WHERE id IN (...)",
        ),
        ("SELECT a FROM t WHERE id = $1", "SELECT a FROM t WHERE id = $1"),
        ("SELECT\n  a,\n  b\nFROM   t", "SELECT a, b FROM t"),
    ],
)
def test_statement_shape_blanks_literals(statement: str, shape: str) -> None:
    assert statement_shape(statement) == shape


def test_statement_shape_is_bounded() -> None:
    shape = statement_shape("SELECT " + ", ".join(f"column_{i}" for i in range(1000)))
    assert len(shape) == monitoring.SHAPE_LENGTH and shape.endswith("...")


async def test_counts_mean_p95_and_slow_statements(engine: AsyncEngine) -> None:
    monitor = DatabaseMonitor(engine, slow_threshold_ms=5, timer=StepTimer(0.010))
    monitor.install()
    async with engine.connect() as conn:
        for value in range(3):
            await conn.execute(text(f"SELECT {value}"))  # noqa: S608 - literal ints
        await conn.execute(text("SELECT :secret"), {"secret": "hunter2-parameter"})
    stats = monitor.query_stats()
    assert stats.count == 4 and stats.errors == 0
    assert stats.mean_ms == pytest.approx(10)
    assert stats.p95_ms == pytest.approx(10)
    assert stats.slow_count == 4
    # Literal and bound values alike end up as "?" (SQLite's placeholder).
    assert [(q.statement, q.count) for q in stats.slow_queries] == [("SELECT ?", 4)]
    assert all("hunter2" not in q.statement for q in stats.slow_queries)


async def test_fast_statements_are_not_kept(engine: AsyncEngine) -> None:
    monitor = DatabaseMonitor(engine, slow_threshold_ms=50, timer=StepTimer(0.001))
    monitor.install()
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    stats = monitor.query_stats()
    assert stats.count == 1 and stats.slow_count == 0 and stats.slow_queries == []


async def test_memory_stays_bounded(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(monitoring, "SLOW_SHAPES", 5)
    monitor = DatabaseMonitor(engine, slow_threshold_ms=0.0001)
    monitor.install()
    async with engine.connect() as conn:
        for i in range(20):
            await conn.execute(text(f"SELECT {i} AS c{i}"))  # noqa: S608 - literal ints
    stats = monitor.query_stats()
    assert stats.count == 20
    assert len(stats.slow_queries) == 5
    # The most recently seen shapes are the ones kept.
    assert {q.statement for q in stats.slow_queries} == {f"SELECT ? AS c{i}" for i in range(15, 20)}
    assert len(monitor._recent) <= monitoring.WINDOW


async def test_failed_statements_are_counted_and_do_not_leak_timers(engine: AsyncEngine) -> None:
    monitor = DatabaseMonitor(engine)
    monitor.install()
    async with engine.connect() as conn:
        with pytest.raises(OperationalError):
            await conn.execute(text("SELECT * FROM no_such_table"))
        await conn.execute(text("SELECT 1"))
        raw = await conn.get_raw_connection()
        assert raw is not None
    stats = monitor.query_stats()
    assert stats.errors == 1 and stats.count == 1


async def test_pool_statistics_and_remove(tmp_path: Path) -> None:
    file_engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}")
    try:
        monitor = DatabaseMonitor(file_engine)
        monitor.install()
        monitor.install()  # idempotent
        async with file_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            inside = monitor.pool_stats()
        after = monitor.pool_stats()
        assert inside.checked_out == 1 and after.checked_out == 0
        monitor.remove()
        monitor.remove()
        async with file_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        assert monitor.query_stats().count == 1  # no longer listening
    finally:
        await file_engine.dispose()
