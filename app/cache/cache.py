"""A small JSON cache over the shared Store, under its own key namespace.

Everything lives under `<REDIS_KEY_PREFIX>:cache:`, apart from rate-limit,
lockout, revocation and OAuth keys, so clearing the cache never resets a
limit or unlocks an account. Values are JSON; every entry has a TTL.

Reads never fail a request: a store that does not answer is a miss. While
Redis is down the ResilientStore serves a per-process copy, and deletions
made then cannot reach Redis, so an entry cached before the outage may
come back afterwards until its TTL ends: keep TTLs short for anything
security-relevant, and invalidate on every change.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from app.cache.base import Store, StoreUnavailable
from app.core import metrics

NAMESPACE = "cache:"
DEFAULT_TTL_SECONDS = 300.0

M = TypeVar("M", bound=BaseModel)
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CacheStats:
    backend: str
    namespace: str
    keys: int
    hits: int
    misses: int
    memory_bytes: int | None

    @property
    def hit_ratio(self) -> float | None:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


class Cache:
    """JSON get/set/delete with TTLs; hits and misses counted per process and in /metrics."""

    def __init__(
        self,
        store: Store,
        *,
        namespace: str = NAMESPACE,
        default_ttl: float = DEFAULT_TTL_SECONDS,
    ) -> None:
        if not namespace.endswith(":") or len(namespace) < 2:
            raise ValueError("namespace must be a non-empty prefix ending with ':'")
        self.store = store
        self.namespace = namespace
        self.default_ttl = default_ttl
        self.hits = 0
        self.misses = 0

    def _key(self, key: str) -> str:
        return self.namespace + key

    def record(self, *, hit: bool) -> None:
        """Count one lookup (for callers that read several keys as one, see `read_raw`)."""
        if hit:
            self.hits += 1
        else:
            self.misses += 1
        metrics.cache_lookup(hit=hit)

    async def _raw(self, key: str) -> str | None:
        try:
            raw = await self.store.get(self._key(key))
        except StoreUnavailable:
            raw = None
        self.record(hit=raw is not None)
        return raw

    async def get(self, key: str) -> Any | None:
        """The decoded value, or None on a miss (a stored JSON `null` reads as a miss too)."""
        raw = await self._raw(key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            await self.delete(key)
            return None

    async def get_model(self, key: str, model: type[M]) -> M | None:
        """The entry validated as `model`; an entry of an older shape is dropped and misses."""
        raw = await self._raw(key)
        if raw is None:
            return None
        try:
            return model.model_validate_json(raw)
        except ValidationError:
            log.warning("cache_entry_dropped", namespace=self.namespace, model=model.__name__)
            await self.delete(key)
            return None

    async def read_raw(self, keys: Sequence[str]) -> list[str | None] | None:
        """The stored strings of `keys` in one round trip, or None if the store did
        not answer. Not counted: the caller decides what one lookup is and `record`s it."""
        try:
            return await self.store.get_many([self._key(k) for k in keys])
        except StoreUnavailable:
            return None

    async def get_many(self, keys: Sequence[str]) -> list[Any | None]:
        if not keys:
            return []
        try:
            raws = await self.store.get_many([self._key(k) for k in keys])
        except StoreUnavailable:
            raws = [None] * len(keys)
        result: list[Any | None] = []
        for raw in raws:
            self.record(hit=raw is not None)
            try:
                result.append(None if raw is None else json.loads(raw))
            except ValueError:
                result.append(None)
        return result

    async def set(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        """Store `value` (anything pydantic can dump to JSON: models, UUIDs, datetimes)."""
        payload = to_json(value).decode()
        try:
            await self.store.set(self._key(key), payload, ttl=ttl or self.default_ttl)
        except StoreUnavailable:
            log.warning("cache_set_failed", namespace=self.namespace)

    async def delete(self, *keys: str) -> int:
        """Invalidate entries. Unlike reads, a failure here propagates: a stale entry matters."""
        if not keys:
            return 0
        return await self.store.delete(*(self._key(k) for k in keys))

    async def clear(self) -> int:
        """Delete every entry of this namespace (and nothing else); returns how many."""
        return await self.store.clear(self.namespace)

    async def stats(self) -> CacheStats:
        return CacheStats(
            backend=self.store.backend,
            namespace=self.namespace,
            keys=await self.store.count(self.namespace),
            hits=self.hits,
            misses=self.misses,
            memory_bytes=await self.store.memory_usage(self.namespace),
        )
