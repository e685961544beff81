from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["ok", "degraded", "down"]


class HealthOut(BaseModel):
    status: Status = Field(examples=["ok"])
    version: str = Field(examples=["0.1.0"])


class ReadyOut(BaseModel):
    status: Literal["ok", "down"]
    database: Literal["ok", "down"]
    migrations: Literal["current", "behind", "ahead", "unknown"] = Field(
        description="The database's schema against this version's migrations: `behind` "
        "(not ready: run `backend migrate`), `ahead` (migrated by a newer release; still "
        "ready), `unknown` while the database does not answer",
        examples=["current"],
    )


class PoolOut(BaseModel):
    """The database connection pool of the process that answered."""

    kind: str = Field(examples=["AsyncAdaptedQueuePool"])
    size: int = Field(description="Connections the pool keeps open", examples=[10])
    checked_out: int = Field(description="Connections in use right now", examples=[2])
    checked_in: int = Field(description="Idle connections in the pool", examples=[3])
    overflow: int = Field(description="Connections open beyond `size`", examples=[0])


class DatabaseStatusOut(BaseModel):
    status: Literal["ok", "down"]
    backend: str = Field(examples=["postgresql"])
    latency_ms: float | None = Field(description="Round trip of `SELECT 1`", examples=[0.42])
    pool: PoolOut


class RedisStatusOut(BaseModel):
    status: Literal["ok", "down", "not_configured"] = Field(
        description="`down` while Redis is configured but unreachable; the service then "
        "runs on a per-process fallback (the overall status is `degraded`)"
    )
    backend: Literal["redis", "memory", "memory-fallback"] = Field(
        description="The store serving rate limits, lockouts, revocations and the cache"
    )
    latency_ms: float | None = Field(description="Round trip of `PING`", examples=[0.18])


class DetailedHealthOut(BaseModel):
    status: Status = Field(
        description="`down`: the database does not answer; `degraded`: Redis is configured "
        "but unreachable (per-process fallback); `ok` otherwise"
    )
    version: str = Field(examples=["0.1.0"])
    uptime_seconds: float = Field(description="Since this process started", examples=[3600.5])
    database: DatabaseStatusOut
    redis: RedisStatusOut


class SlowQueryOut(BaseModel):
    statement: str = Field(
        description="The SQL text with literals replaced by `?`; never its parameters",
        examples=["SELECT users.id, users.email FROM users WHERE users.email = ?"],
    )
    count: int
    max_ms: float
    mean_ms: float
    last_seen: datetime


class DatabaseStatsOut(BaseModel):
    """Statement timing since this process started (each worker keeps its own)."""

    backend: str = Field(examples=["postgresql"])
    query_count: int = Field(examples=[12045])
    error_count: int = Field(examples=[0])
    mean_ms: float | None = Field(examples=[0.8])
    p95_ms: float | None = Field(description="Over the last 1000 statements", examples=[2.1])
    slow_threshold_ms: float = Field(description="`SLOW_QUERY_MS`", examples=[200])
    slow_count: int = Field(examples=[3])
    slow_queries: list[SlowQueryOut] = Field(description="Slowest first, at most 50 shapes")
    pool: PoolOut


class CacheStatsOut(BaseModel):
    backend: Literal["redis", "memory", "memory-fallback"]
    namespace: str = Field(description="Key prefix of the cache", examples=["auth:cache:"])
    keys: int = Field(examples=[42])
    hits: int = Field(description="Since this process started", examples=[1200])
    misses: int = Field(description="Since this process started", examples=[80])
    hit_ratio: float | None = Field(examples=[0.9375])
    memory_bytes: int | None = Field(
        description="Approximate memory held by the cache's keys and values", examples=[16384]
    )


class CacheClearedOut(BaseModel):
    deleted: int = Field(description="Cache entries removed", examples=[42])
