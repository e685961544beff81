"""Health probes and the operator's views of database, Redis and cache."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app import __version__
from app.database.migrations import SchemaState, schema_state
from app.database.monitoring import PoolStats
from app.schemas.health import (
    CacheStatsOut,
    DatabaseStatsOut,
    DatabaseStatusOut,
    DetailedHealthOut,
    PoolOut,
    ReadyOut,
    RedisStatusOut,
    SlowQueryOut,
    Status,
)
from app.services.context import ServiceContext

PROBE_TIMEOUT_SECONDS = 2.0


async def database_latency(ctx: ServiceContext) -> float | None:
    """Milliseconds for `SELECT 1`, or None when the database does not answer in time."""
    start = time.perf_counter()
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            async with ctx.sessionmaker() as db:
                connection = await db.connection()
                await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError):
        return None
    return round((time.perf_counter() - start) * 1000, 3)


async def database_schema(
    ctx: ServiceContext, *, within: float = PROBE_TIMEOUT_SECONDS
) -> SchemaState | None:
    """The schema's revision against this code's, or None when the database does not answer
    within `within` seconds."""
    try:
        async with asyncio.timeout(within):
            async with ctx.sessionmaker() as db:
                connection = await db.connection()
                return await connection.run_sync(schema_state)
    except (SQLAlchemyError, OSError, TimeoutError):
        return None


async def readiness(ctx: ServiceContext) -> ReadyOut:
    """Ready when the database answers and its schema is not behind (cached for a second)."""
    return await ctx.readiness.get(ctx.clock, lambda: _probe_readiness(ctx))


async def _probe_readiness(ctx: ServiceContext) -> ReadyOut:
    state = await database_schema(ctx)
    if state is None:
        return ReadyOut(status="down", database="down", migrations="unknown")
    ready = state.status != "behind"
    return ReadyOut(status="ok" if ready else "down", database="ok", migrations=state.status)


async def redis_status(ctx: ServiceContext) -> RedisStatusOut:
    """PING the store; with Redis configured, a failed PING also switches to the fallback."""
    if not ctx.settings.REDIS_URL:
        return RedisStatusOut(status="not_configured", backend="memory", latency_ms=None)
    start = time.perf_counter()
    answered = await ctx.store.ping()
    latency = round((time.perf_counter() - start) * 1000, 3)
    backend = ctx.store.backend
    if not answered or backend != "redis":
        return RedisStatusOut(status="down", backend="memory-fallback", latency_ms=None)
    return RedisStatusOut(status="ok", backend="redis", latency_ms=latency)


def _pool(stats: PoolStats) -> PoolOut:
    return PoolOut(
        kind=stats.kind,
        size=stats.size,
        checked_out=stats.checked_out,
        checked_in=stats.checked_in,
        overflow=stats.overflow,
    )


def _backend(ctx: ServiceContext) -> str:
    return ctx.engine.dialect.name


async def detailed_health(ctx: ServiceContext) -> DetailedHealthOut:
    """Database and Redis, probed concurrently, with an overall ok / degraded / down."""
    latency, redis = await asyncio.gather(database_latency(ctx), redis_status(ctx))
    database = DatabaseStatusOut(
        status="ok" if latency is not None else "down",
        backend=_backend(ctx),
        latency_ms=latency,
        pool=_pool(ctx.db_monitor.pool_stats()),
    )
    status: Status = "ok"
    if database.status == "down":
        status = "down"
    elif redis.status == "down":
        status = "degraded"
    return DetailedHealthOut(
        status=status,
        version=__version__,
        uptime_seconds=round(time.monotonic() - ctx.started_at, 3),
        database=database,
        redis=redis,
    )


def database_stats(ctx: ServiceContext) -> DatabaseStatsOut:
    """Query counts and timings gathered by the engine's event hooks in this process."""
    stats = ctx.db_monitor.query_stats()
    return DatabaseStatsOut(
        backend=_backend(ctx),
        query_count=stats.count,
        error_count=stats.errors,
        mean_ms=None if stats.mean_ms is None else round(stats.mean_ms, 3),
        p95_ms=None if stats.p95_ms is None else round(stats.p95_ms, 3),
        slow_threshold_ms=stats.slow_threshold_ms,
        slow_count=stats.slow_count,
        slow_queries=[
            SlowQueryOut(
                statement=q.statement,
                count=q.count,
                max_ms=round(q.max_ms, 3),
                mean_ms=round(q.total_ms / q.count, 3),
                last_seen=datetime.fromtimestamp(q.last_seen, UTC),
            )
            for q in stats.slow_queries
        ],
        pool=_pool(ctx.db_monitor.pool_stats()),
    )


async def cache_stats(ctx: ServiceContext) -> CacheStatsOut:
    stats = await ctx.cache.stats()
    prefix = f"{ctx.settings.REDIS_KEY_PREFIX}:" if ctx.settings.REDIS_URL else ""
    return CacheStatsOut(
        backend=stats.backend,
        namespace=prefix + stats.namespace,
        keys=stats.keys,
        hits=stats.hits,
        misses=stats.misses,
        hit_ratio=None if stats.hit_ratio is None else round(stats.hit_ratio, 4),
        memory_bytes=stats.memory_bytes,
    )


async def clear_cache(ctx: ServiceContext) -> int:
    """Delete this application's cache entries only (never rate limits or lockouts)."""
    return await ctx.cache.clear()
