"""The JSON cache over a Store: namespacing, TTLs, hit/miss counting, bad entries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from app.cache.cache import Cache
from app.cache.memory import MemoryStore
from tests.support.stores import DeadStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Snapshot(BaseModel):
    id: uuid.UUID
    role: str
    seen: datetime


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MemoryStore:
    return MemoryStore(timer=clock)


async def test_round_trip_under_the_namespace(store: MemoryStore) -> None:
    cache = Cache(store)
    await cache.set("user:1", {"role": "admin", "ids": [1, 2]})
    assert await cache.get("user:1") == {"role": "admin", "ids": [1, 2]}
    assert await store.get("cache:user:1") is not None
    assert await store.get("user:1") is None


async def test_hits_and_misses_are_counted(store: MemoryStore) -> None:
    cache = Cache(store)
    assert await cache.get("missing") is None
    await cache.set("present", 1)
    assert await cache.get("present") == 1
    assert await cache.get_many(["present", "missing", "present"]) == [1, None, 1]
    stats = await cache.stats()
    assert (stats.hits, stats.misses) == (3, 2)
    assert stats.hit_ratio == pytest.approx(0.6)
    assert stats.keys == 1 and stats.backend == "memory" and stats.namespace == "cache:"
    assert stats.memory_bytes is not None and stats.memory_bytes > 0


async def test_entries_expire(store: MemoryStore, clock: Clock) -> None:
    cache = Cache(store, default_ttl=60)
    await cache.set("short", "x", ttl=5)
    await cache.set("default", "y")
    clock.now += 6
    assert await cache.get("short") is None
    assert await cache.get("default") == "y"
    clock.now += 60
    assert await cache.get("default") is None


async def test_models_uuids_and_datetimes(store: MemoryStore) -> None:
    cache = Cache(store)
    snapshot = Snapshot(id=uuid.uuid4(), role="user", seen=datetime(2026, 1, 1, tzinfo=UTC))
    await cache.set("snap", snapshot)
    assert await cache.get_model("snap", Snapshot) == snapshot
    assert (await cache.get("snap"))["id"] == str(snapshot.id)


async def test_an_entry_of_another_shape_is_dropped(store: MemoryStore) -> None:
    cache = Cache(store)
    await cache.set("snap", {"id": "not-a-uuid"})
    assert await cache.get_model("snap", Snapshot) is None
    assert await store.get("cache:snap") is None
    await store.set("cache:garbage", "{not json")
    assert await cache.get("garbage") is None
    assert await store.get("cache:garbage") is None


async def test_delete_and_delete_many(store: MemoryStore) -> None:
    cache = Cache(store)
    for key in ("a", "b", "c"):
        await cache.set(key, key)
    assert await cache.delete() == 0
    assert await cache.delete("a") == 1
    assert await cache.delete("b", "c", "never") == 2
    assert await cache.get_many(["a", "b", "c"]) == [None, None, None]


async def test_clear_touches_only_the_namespace(store: MemoryStore) -> None:
    cache = Cache(store)
    await cache.set("x", 1)
    await cache.set("y", 2)
    await store.set("lock:until:abc", "2026-01-01T00:00:00+00:00")
    await store.set("rl:login:1.2.3.4", "3")
    await store.set("cachet", "not in the namespace either")
    assert await cache.clear() == 2
    assert await cache.stats() is not None
    assert await store.get("lock:until:abc") is not None
    assert await store.get("rl:login:1.2.3.4") == "3"
    assert await store.get("cachet") is not None


async def test_a_dead_store_reads_as_misses(clock: Clock) -> None:
    cache = Cache(DeadStore(timer=clock))
    await cache.set("k", 1)  # swallowed: a cache write is best effort
    assert await cache.get("k") is None
    assert await cache.get_many(["k", "l"]) == [None, None]
    assert cache.misses == 3


@pytest.mark.parametrize("namespace", ["", "cache", ":"])
def test_namespace_must_be_a_prefix(store: MemoryStore, namespace: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        Cache(store, namespace=namespace)
