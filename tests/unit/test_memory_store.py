from __future__ import annotations

from app.cache.memory import MemoryStore


class Timer:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_ttl_expiry_and_incr() -> None:
    timer = Timer()
    store = MemoryStore(timer=timer)
    await store.set("a", "1", ttl=10)
    assert await store.incr("n", ttl=5) == 1
    assert await store.incr("n", ttl=5) == 2
    timer.now += 5
    assert await store.get("n") is None
    assert await store.incr("n", ttl=5) == 1
    assert await store.get("a") == "1"
    timer.now += 6
    assert await store.get("a") is None


async def test_set_if_absent_getdel_delete_and_clear() -> None:
    store = MemoryStore()
    assert await store.set_if_absent("k", "v", ttl=10)
    assert not await store.set_if_absent("k", "w", ttl=10)
    assert await store.getdel("k") == "v"
    assert await store.getdel("k") is None
    await store.set("cache:x", "1")
    await store.set("cache:y", "2")
    await store.set("lock:z", "3")
    assert await store.count("cache:") == 2
    assert await store.clear("cache:") == 2
    assert await store.get_many(["cache:x", "lock:z"]) == [None, "3"]
    assert await store.delete("lock:z", "missing") == 1
