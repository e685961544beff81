from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from app.cache.base import PER_PROCESS_FALLBACK, Store, StoreUnavailable
from app.cache.memory import MemoryStore
from app.core import metrics

T = TypeVar("T")
log = structlog.get_logger(__name__)


class RedisHealth:
    """Shared view of whether Redis answers, so every user of it fails over together.

    After a failure, Redis is left alone for `retry_after` seconds (no request
    pays a connection timeout meanwhile), then tried again.
    """

    def __init__(self, *, retry_after: float = 2.0, timer: Callable[[], float] = time.monotonic):
        self.retry_after = retry_after
        self._timer = timer
        self._down_since: float | None = None
        self._next_try = 0.0
        self.failovers = 0
        # Run when Redis answers again after an outage (deletes may have been lost).
        self.on_recover: list[Callable[[], Awaitable[None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._recovering = 0

    @property
    def degraded(self) -> bool:
        return self._down_since is not None

    @property
    def recovering(self) -> bool:
        """Redis is back but its recovery hooks have not finished: what it holds may
        predate changes made during the outage."""
        return self._recovering > 0

    def should_try(self) -> bool:
        return self._down_since is None or self._timer() >= self._next_try

    def mark_down(self, error: Exception) -> None:
        self._next_try = self._timer() + self.retry_after
        if self._down_since is None:
            self._down_since = self._timer()
            self.failovers += 1
            metrics.store_failover()
            metrics.set_store_degraded(True)
            log.error("redis_unavailable", error=str(error), fallback="per-process memory")

    def mark_up(self) -> None:
        if self._down_since is not None:
            log.warning("redis_recovered", down_seconds=round(self._timer() - self._down_since, 1))
            self._down_since = None
            metrics.set_store_degraded(False)
            if self.on_recover:
                task = asyncio.get_running_loop().create_task(self._recover())
                self._recovering += 1
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _recover(self) -> None:
        try:
            for hook in self.on_recover:
                try:
                    await hook()
                except Exception:
                    log.exception("redis_recovery_hook_failed")
        finally:
            self._recovering -= 1


class ResilientStore:
    """Redis first; per-process memory while Redis is unreachable."""

    def __init__(self, primary: Store, *, health: RedisHealth) -> None:
        self.primary = primary
        self.fallback = MemoryStore()
        self.health = health

    @property
    def backend(self) -> str:
        return PER_PROCESS_FALLBACK if self.health.degraded else self.primary.backend

    async def _run(self, operation: Callable[[Store], Awaitable[T]]) -> T:
        if self.health.should_try():
            try:
                result = await operation(self.primary)
            except StoreUnavailable as exc:
                self.health.mark_down(exc)
            else:
                self.health.mark_up()
                return result
        return await operation(self.fallback)

    async def get(self, key: str) -> str | None:
        return await self._run(lambda s: s.get(key))

    async def get_many(self, keys: list[str]) -> list[str | None]:
        return await self._run(lambda s: s.get_many(keys))

    async def set(self, key: str, value: str, *, ttl: float | None = None) -> None:
        await self._run(lambda s: s.set(key, value, ttl=ttl))

    async def set_if_absent(self, key: str, value: str, *, ttl: float) -> bool:
        return await self._run(lambda s: s.set_if_absent(key, value, ttl=ttl))

    async def delete(self, *keys: str) -> int:
        # Deletions go to both, so nothing revoked survives in the fallback copy.
        removed = await self.fallback.delete(*keys)
        return max(removed, await self._run(lambda s: s.delete(*keys)))

    async def getdel(self, key: str) -> str | None:
        return await self._run(lambda s: s.getdel(key))

    async def incr(self, key: str, *, ttl: float) -> int:
        return await self._run(lambda s: s.incr(key, ttl=ttl))

    async def clear(self, namespace: str) -> int:
        removed = await self.fallback.clear(namespace)
        return removed + await self._run(lambda s: s.clear(namespace))

    async def count(self, namespace: str) -> int:
        return await self._run(lambda s: s.count(namespace))

    async def memory_usage(self, namespace: str) -> int | None:
        return await self._run(lambda s: s.memory_usage(namespace))

    async def ping(self) -> bool:
        ok = await self.primary.ping()
        if ok:
            self.health.mark_up()
        else:
            self.health.mark_down(StoreUnavailable("ping failed"))
        return ok

    async def close(self) -> None:
        await self.primary.close()
        await self.fallback.close()
