from __future__ import annotations

import time
from collections.abc import Callable


class MemoryStore:
    """In-process store for embedded mode and as the fallback when Redis is away.

    Single-threaded asyncio needs no locks: no method awaits between read and write.
    """

    backend = "memory"

    def __init__(self, *, timer: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[str, float | None]] = {}
        self._timer = timer

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= self._timer():
            del self._data[key]
            return None
        return value

    def _expiry(self, ttl: float | None) -> float | None:
        return None if ttl is None else self._timer() + ttl

    def _purge(self) -> None:
        now = self._timer()
        for key in [k for k, (_, exp) in self._data.items() if exp is not None and exp <= now]:
            del self._data[key]

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def get_many(self, keys: list[str]) -> list[str | None]:
        return [self._live(key) for key in keys]

    async def set(self, key: str, value: str, *, ttl: float | None = None) -> None:
        if len(self._data) > 100_000:
            self._purge()
        self._data[key] = (value, self._expiry(ttl))

    async def set_if_absent(self, key: str, value: str, *, ttl: float) -> bool:
        if self._live(key) is not None:
            return False
        self._data[key] = (value, self._expiry(ttl))
        return True

    async def delete(self, *keys: str) -> int:
        removed = 0
        for key in keys:
            if self._live(key) is not None:
                removed += 1
            self._data.pop(key, None)
        return removed

    async def getdel(self, key: str) -> str | None:
        value = self._live(key)
        self._data.pop(key, None)
        return value

    async def incr(self, key: str, *, ttl: float) -> int:
        current = self._live(key)
        if current is None:
            self._data[key] = ("1", self._expiry(ttl))
            return 1
        value = int(current) + 1
        self._data[key] = (str(value), self._data[key][1])
        return value

    async def clear(self, namespace: str) -> int:
        keys = [key for key in self._data if key.startswith(namespace)]
        for key in keys:
            del self._data[key]
        return len(keys)

    async def count(self, namespace: str) -> int:
        self._purge()
        return sum(1 for key in self._data if key.startswith(namespace))

    async def memory_usage(self, namespace: str) -> int:
        self._purge()
        return sum(
            len(key.encode()) + len(value.encode())
            for key, (value, _) in self._data.items()
            if key.startswith(namespace)
        )

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._data.clear()
