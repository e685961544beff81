from __future__ import annotations

from typing import Protocol

# The backend name of a store answering from this process's memory because Redis
# does not: what it holds is seen by no other process.
PER_PROCESS_FALLBACK = "memory-fallback"


class StoreUnavailable(Exception):
    """The backing service did not answer."""


class Store(Protocol):
    """Small async key-value interface shared by lockout, revocation, OAuth state and cache.

    Keys are relative: each store adds the application prefix. TTLs are seconds.
    """

    @property
    def backend(self) -> str:
        """ "redis", "memory" or "memory-fallback"."""
        ...

    async def get(self, key: str) -> str | None: ...

    async def get_many(self, keys: list[str]) -> list[str | None]: ...

    async def set(self, key: str, value: str, *, ttl: float | None = None) -> None: ...

    async def set_if_absent(self, key: str, value: str, *, ttl: float) -> bool: ...

    async def delete(self, *keys: str) -> int: ...

    async def getdel(self, key: str) -> str | None: ...

    async def incr(self, key: str, *, ttl: float) -> int:
        """Add one and return the new value; the TTL starts with the first increment."""
        ...

    async def clear(self, namespace: str) -> int:
        """Delete every key under `namespace` (never anything outside the prefix)."""
        ...

    async def count(self, namespace: str) -> int: ...

    async def memory_usage(self, namespace: str) -> int | None:
        """Approximate bytes held by the keys under `namespace` (None if unknown)."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
