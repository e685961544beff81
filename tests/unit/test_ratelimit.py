"""The sliding-window counter, in memory and (with TEST_REDIS_URL) on Redis."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.core.context import RequestContext, request_context_var
from app.core.ratelimit import Decision, Limit, MemoryCounter, RateLimiter, tightest


class Timer:
    def __init__(self, start: float = 1_000_040.0) -> None:  # 20 s into a minute
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_memory_counter_weights_the_previous_window() -> None:
    counter = MemoryCounter()
    window = 60_000
    start = 1_000 * window
    for _ in range(10):
        assert counter.hit("k", 10, window, start)[0]
    assert counter.hit("k", 10, window, start + 59_000) == (False, 10)  # full, not counted
    # A quarter into the next window, 75% of the old count still weighs in.
    assert counter.hit("k", 10, window, start + window + 15_000) == (True, 8)
    assert counter.hit("k", 10, window, start + window + 15_000) == (True, 9)
    assert counter.hit("k", 10, window, start + window + 15_000) == (True, 10)
    assert counter.hit("k", 10, window, start + window + 15_000)[0] is False
    # Two windows later everything is forgotten.
    assert counter.hit("k", 10, window, start + 3 * window) == (True, 1)


def test_a_full_memory_counter_is_swept_once_per_doubling_not_on_every_hit() -> None:
    window = 60_000
    now = 1_000 * window
    counter = MemoryCounter(max_keys=1_000)
    for i in range(1_000):
        counter.hit(f"client-{i}", 10, window, now)
    for _ in range(5):  # known keys never trigger a sweep
        counter.hit("client-1", 10, window, now)
    assert counter.sweeps == 0
    # Every client is live, so a sweep frees nothing: 4,000 more new keys cost
    # sweeps at 1,000, 2,000 and 4,000 keys, not one per hit.
    for i in range(1_000, 5_000):
        counter.hit(f"client-{i}", 10, window, now)
    assert counter.sweeps == 3 and len(counter) == 5_000
    # Two windows on, the next sweep (at 8,000 keys) drops all 5,000 old ones.
    later = now + 2 * window
    for i in range(3_001):
        counter.hit(f"late-{i}", 10, window, later)
    assert counter.sweeps == 4 and len(counter) == 3_001
    # The next sweep waits for twice the 3,000 keys that survived it.
    for i in range(3_001, 6_000):
        counter.hit(f"late-{i}", 10, window, later)
    assert counter.sweeps == 4
    counter.hit("late-6000", 10, window, later)
    assert counter.sweeps == 5


@pytest.fixture(params=["memory", "redis"])
async def limiter_and_timer(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[RateLimiter, Timer]]:
    timer = Timer()
    if request.param == "memory":
        yield RateLimiter(redis=None, prefix="t", timer=timer), timer
        return
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("needs Redis (TEST_REDIS_URL)")
    client = Redis.from_url(url)
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    try:
        yield RateLimiter(redis=client, prefix=prefix, timer=timer), timer
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_boundary_remaining_and_reset(limiter_and_timer: tuple[RateLimiter, Timer]) -> None:
    limiter, timer = limiter_and_timer
    limit = Limit("t", 3)
    decisions = [await limiter.hit(limit, "client") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert all(d.reset == 40 and d.limit == 3 for d in decisions)
    assert decisions[-1].headers()[-1] == (b"retry-after", b"40")
    other = await limiter.hit(limit, "another-client")
    assert other.allowed
    assert (await limiter.hit(Limit("other-route", 3), "client")).allowed
    timer.now += 100  # the old window no longer overlaps
    assert (await limiter.hit(limit, "client")).remaining == 2


async def test_refusals_are_not_counted(limiter_and_timer: tuple[RateLimiter, Timer]) -> None:
    limiter, timer = limiter_and_timer
    limit = Limit("t", 2)
    for _ in range(10):
        await limiter.hit(limit, "c")
    timer.now += 70  # 30 s into the next window: half the old count (2 * 0.5 = 1) remains
    assert (await limiter.hit(limit, "c")).allowed
    assert not (await limiter.hit(limit, "c")).allowed


async def test_decisions_are_recorded_for_the_request(
    limiter_and_timer: tuple[RateLimiter, Timer],
) -> None:
    limiter, _ = limiter_and_timer
    request = RequestContext(request_id="r1")
    token = request_context_var.set(request)
    try:
        await limiter.hit(Limit("wide", 100), "c")
        await limiter.hit(Limit("narrow", 2), "c")
    finally:
        request_context_var.reset(token)
    best = tightest(request.decisions)
    assert best is not None and best.limit == 2 and best.remaining == 1


def test_tightest_prefers_a_refusal() -> None:
    ok = Decision(allowed=True, limit=10, remaining=0, reset=5)
    refused = Decision(allowed=False, limit=100, remaining=0, reset=30)
    assert tightest([ok, refused]) is refused
    assert tightest([]) is None


@pytest.fixture
async def shared_redis() -> AsyncIterator[tuple[Redis, str]]:
    """A Redis client and a key prefix of this test's own, removed afterwards."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("needs Redis (TEST_REDIS_URL)")
    client = Redis.from_url(url, decode_responses=True)
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    try:
        yield client, prefix
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def window_count(client: Redis, prefix: str, timer: Timer, name: str, key: str) -> int:
    index = int(timer.now * 1000) // 60_000
    return int(await client.get(f"{prefix}:rl:{name}:{key}:{index}") or 0)


async def test_a_batch_limit_reserves_hits_and_spends_them_locally(
    shared_redis: tuple[Redis, str],
) -> None:
    client, prefix = shared_redis
    timer = Timer()
    limiter = RateLimiter(redis=client, prefix=prefix, timer=timer)
    limit = Limit("global", 1600, batch=64)
    first = await limiter.hit(limit, "c")
    # One round trip reserved 64 hits (a sixteenth of 1,600 is more): Redis counts them all.
    assert await window_count(client, prefix, timer, "global", "c") == 64
    rest = [await limiter.hit(limit, "c") for _ in range(63)]
    assert await window_count(client, prefix, timer, "global", "c") == 64  # not asked again
    assert [d.remaining for d in [first, *rest]] == list(range(1599, 1535, -1))
    await limiter.hit(limit, "c")
    assert await window_count(client, prefix, timer, "global", "c") == 128


async def test_a_limit_without_batch_asks_redis_every_time(
    shared_redis: tuple[Redis, str],
) -> None:
    client, prefix = shared_redis
    timer = Timer()
    limiter = RateLimiter(redis=client, prefix=prefix, timer=timer)
    for expected in range(1, 6):
        await limiter.hit(Limit("login", 1600), "c")
        assert await window_count(client, prefix, timer, "login", "c") == expected


async def test_processes_reserving_batches_never_exceed_the_limit(
    shared_redis: tuple[Redis, str],
) -> None:
    client, prefix = shared_redis
    timer = Timer()
    processes = [RateLimiter(redis=client, prefix=prefix, timer=timer) for _ in range(3)]
    limit = Limit("global", 200, batch=64)
    admitted = 0
    for i in range(400):
        admitted += (await processes[i % 3].hit(limit, "c")).allowed
    # Reserved hits count as used, so nothing beyond the limit gets through; near
    # the limit hits are reserved one by one, so little of it is stranded.
    assert 190 <= admitted <= 200
    assert await window_count(client, prefix, timer, "global", "c") == 200


async def test_concurrent_requests_share_one_reservation(shared_redis: tuple[Redis, str]) -> None:
    client, prefix = shared_redis
    timer = Timer()
    limiter = RateLimiter(redis=client, prefix=prefix, timer=timer)
    limit = Limit("global", 1600, batch=64)
    decisions = await asyncio.gather(*(limiter.hit(limit, "c") for _ in range(64)))
    assert all(d.allowed for d in decisions)
    assert sorted(d.remaining for d in decisions) == list(range(1536, 1600))
    assert await window_count(client, prefix, timer, "global", "c") == 64
