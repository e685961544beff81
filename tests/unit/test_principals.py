"""PrincipalCache.load_once: one load per session however many requests wait on it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.cache.cache import Cache
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
    return PrincipalCache(Cache(MemoryStore()), SystemClock())


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


async def test_a_load_begun_before_a_revocation_is_not_kept_nor_joined(
    cache: PrincipalCache,
) -> None:
    sid = uuid.uuid4()
    before = Loader(principal(sid))
    early = asyncio.create_task(cache.load_once(sid, before))
    await asyncio.sleep(0)
    await cache.revoke([sid], ttl=60)  # e.g. a logout while the load is in flight
    after = Loader(LookupError("revoked"))
    late = asyncio.create_task(cache.load_once(sid, after))
    await asyncio.sleep(0)
    before.release.set()
    after.release.set()
    assert await early is before.result  # it began before the logout
    with pytest.raises(LookupError):
        await late  # it did not join the older load: it ran its own
    assert after.calls == 1
    assert cache.local(sid) is None  # nothing read before the logout stays cached


async def test_a_load_begun_before_a_user_change_is_not_kept(cache: PrincipalCache) -> None:
    sid = uuid.uuid4()
    loader = Loader(principal(sid))
    task = asyncio.create_task(cache.load_once(sid, loader))
    await asyncio.sleep(0)
    await cache.forget_user(loader.result.user.id)  # e.g. the role changed
    loader.release.set()
    await task
    assert cache.local(sid) is None
    # A load begun after the change is kept.
    fresh = Loader(principal(sid))
    fresh.release.set()
    await cache.load_once(sid, fresh)
    assert cache.local(sid) is fresh.result
