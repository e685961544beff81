from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.cache.base import StoreUnavailable

T = TypeVar("T")

_INCR_WITH_TTL = """
local value = redis.call('INCR', KEYS[1])
if value == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return value
"""


class RedisStore:
    """The shared store: every app process sees the same keys."""

    backend = "redis"

    def __init__(self, client: Redis, *, prefix: str) -> None:
        self._client = client
        self._prefix = prefix.rstrip(":") + ":"
        self._incr = client.register_script(_INCR_WITH_TTL)

    @property
    def client(self) -> Redis:
        return self._client

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        try:
            return await operation()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def get(self, key: str) -> str | None:
        value = await self._call(lambda: self._client.get(self._key(key)))
        return None if value is None else _text(value)

    async def get_many(self, keys: list[str]) -> list[str | None]:
        if not keys:
            return []
        values = await self._call(lambda: self._client.mget([self._key(k) for k in keys]))
        return [None if v is None else _text(v) for v in values]

    async def set(self, key: str, value: str, *, ttl: float | None = None) -> None:
        px = None if ttl is None else max(1, int(ttl * 1000))
        await self._call(lambda: self._client.set(self._key(key), value, px=px))

    async def set_if_absent(self, key: str, value: str, *, ttl: float) -> bool:
        px = max(1, int(ttl * 1000))
        result = await self._call(lambda: self._client.set(self._key(key), value, px=px, nx=True))
        return bool(result)

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        return int(await self._call(lambda: self._client.delete(*(self._key(k) for k in keys))))

    async def getdel(self, key: str) -> str | None:
        value = await self._call(lambda: self._client.getdel(self._key(key)))
        return None if value is None else _text(value)

    async def incr(self, key: str, *, ttl: float) -> int:
        px = max(1, int(ttl * 1000))
        result = await self._call(lambda: self._incr(keys=[self._key(key)], args=[px]))
        return int(cast(Any, result))

    async def clear(self, namespace: str) -> int:
        async def scan_delete() -> int:
            removed = 0
            pattern = _glob_escape(self._key(namespace)) + "*"
            async for batch in _batches(self._client.scan_iter(match=pattern, count=500), 500):
                removed += int(await self._client.unlink(*batch))
            return removed

        return await self._call(scan_delete)

    async def count(self, namespace: str) -> int:
        async def scan_count() -> int:
            pattern = _glob_escape(self._key(namespace)) + "*"
            return sum([1 async for _ in self._client.scan_iter(match=pattern, count=500)])

        return await self._call(scan_count)

    async def memory_usage(self, namespace: str) -> int:
        """Sum of MEMORY USAGE over the namespace's keys (admin statistics, not a hot path)."""

        async def scan_usage() -> int:
            total = 0
            pattern = _glob_escape(self._key(namespace)) + "*"
            async for batch in _batches(self._client.scan_iter(match=pattern, count=500), 500):
                async with self._client.pipeline(transaction=False) as pipe:
                    for key in batch:
                        pipe.memory_usage(key)
                    total += sum(int(size or 0) for size in await pipe.execute())
            return total

        return await self._call(scan_usage)

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        """The client is shared; whoever built it closes it."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


async def _batches(iterator: Any, size: int) -> Any:
    batch: list[Any] = []
    async for item in iterator:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
