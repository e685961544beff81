"""The sliding-window counter, in memory and (with TEST_REDIS_URL) on Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.core.ratelimit import Decision, Limit, MemoryCounter, RateLimiter, decisions_var, tightest


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
    recorded: list[Decision] = []
    token = decisions_var.set(recorded)
    try:
        await limiter.hit(Limit("wide", 100), "c")
        await limiter.hit(Limit("narrow", 2), "c")
    finally:
        decisions_var.reset(token)
    best = tightest(recorded)
    assert best is not None and best.limit == 2 and best.remaining == 1


def test_tightest_prefers_a_refusal() -> None:
    ok = Decision(allowed=True, limit=10, remaining=0, reset=5)
    refused = Decision(allowed=False, limit=100, remaining=0, reset=30)
    assert tightest([ok, refused]) is refused
    assert tightest([]) is None
