"""PrincipalCache.load_once: one load per session however many requests wait on it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.cache.memory import MemoryStore
from app.core.clock import SystemClock
from app.models import Role
from app.services.principals import Principal, PrincipalCache, UserSnapshot


def principal(session_id: uuid.UUID) -> Principal:
    now = datetime.now(UTC)
    user = UserSnapshot(uuid.uuid4(), "a@example.com", None, Role.USER, True, True, now, ())
    return Principal(user, session_id, now + timedelta(days=1))


class Loader:
    def __init__(self, result: Principal | Exception) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.result = result

    async def __call__(self) -> Principal:
        self.calls += 1
        await self.release.wait()
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


@pytest.fixture
def cache() -> PrincipalCache:
    return PrincipalCache(MemoryStore(), SystemClock())


async def test_concurrent_callers_share_one_load(cache: PrincipalCache) -> None:
    sid = uuid.uuid4()
    loader = Loader(principal(sid))
    waiters = [asyncio.create_task(cache.load_once(sid, loader)) for _ in range(10)]
    await asyncio.sleep(0)
    loader.release.set()
    results = await asyncio.gather(*waiters)
    assert loader.calls == 1 and all(r is loader.result for r in results)
    # Finished loads are not kept: the next miss loads again.
    again = Loader(principal(sid))
    again.release.set()
    await cache.load_once(sid, again)
    assert again.calls == 1


async def test_a_failure_reaches_every_waiter(cache: PrincipalCache) -> None:
    sid = uuid.uuid4()
    loader = Loader(LookupError("gone"))
    waiters = [asyncio.create_task(cache.load_once(sid, loader)) for _ in range(3)]
    await asyncio.sleep(0)
    loader.release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert loader.calls == 1 and all(isinstance(r, LookupError) for r in results)


async def test_the_first_caller_leaving_does_not_cancel_the_others(cache: PrincipalCache) -> None:
    sid = uuid.uuid4()
    loader = Loader(principal(sid))
    first = asyncio.create_task(cache.load_once(sid, loader))
    second = asyncio.create_task(cache.load_once(sid, loader))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    loader.release.set()
    assert await second is loader.result
    assert first.cancelled() and loader.calls == 1
