from __future__ import annotations

from redis.asyncio import Redis

from app.cache.base import Store
from app.cache.memory import MemoryStore
from app.cache.redis_store import RedisStore
from app.cache.resilient import RedisHealth, ResilientStore
from app.config import Settings

REDIS_TIMEOUT_SECONDS = 0.5


def build_redis(settings: Settings) -> Redis | None:
    """The one Redis client (and pool) of the process, or None without REDIS_URL."""
    if not settings.REDIS_URL:
        return None
    return Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        health_check_interval=30,
    )


def build_store(settings: Settings, client: Redis | None, health: RedisHealth) -> Store:
    """Redis with a per-process fallback when REDIS_URL is set, else process memory."""
    if client is None:
        return MemoryStore()
    return ResilientStore(RedisStore(client, prefix=settings.REDIS_KEY_PREFIX), health=health)
