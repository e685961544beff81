"""Store fakes for unit tests."""

from __future__ import annotations

from app.cache.base import StoreUnavailable
from app.cache.memory import MemoryStore


class DeadStore(MemoryStore):
    """Redis that never answers: every read and write raises StoreUnavailable."""

    backend = "redis"

    async def get(self, key: str) -> str | None:
        raise StoreUnavailable("down")

    async def get_many(self, keys: list[str]) -> list[str | None]:
        raise StoreUnavailable("down")

    async def set(self, key: str, value: str, *, ttl: float | None = None) -> None:
        raise StoreUnavailable("down")

    async def set_if_absent(self, key: str, value: str, *, ttl: float) -> bool:
        raise StoreUnavailable("down")

    async def delete(self, *keys: str) -> int:
        raise StoreUnavailable("down")

    async def incr(self, key: str, *, ttl: float) -> int:
        raise StoreUnavailable("down")
