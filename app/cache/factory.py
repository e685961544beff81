from __future__ import annotations

from redis.asyncio import Redis

from app.cache.base import Store
from app.cache.memory import MemoryStore
from app.cache.redis_store import RedisStore
from app.cache.resilient import RedisHealth, ResilientStore
from app.config import Settings

REDIS_TIMEOUT_SECONDS = 0.5


def build_redis(settings: Settings) -> Redis | None:
    if not settings.REDIS_URL:
        return None
    return Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        health_check_interval=30,
    )


def build_store(settings: Settings) -> Store:
    """Redis with a per-process fallback when REDIS_URL is set, else process memory."""
    client = build_redis(settings)
    if client is None:
        return MemoryStore()
    return ResilientStore(
        RedisStore(client, prefix=settings.REDIS_KEY_PREFIX), health=RedisHealth()
    )
