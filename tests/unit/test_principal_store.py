"""The principal cache over each kind of store: user generations never repeat, a
per-process fallback copy is never trusted, and every lookup is counted."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from app.cache.base import Store, StoreUnavailable
from app.cache.cache import Cache
from app.cache.memory import MemoryStore
from app.cache.redis_store import RedisStore
from app.cache.resilient import RedisHealth, ResilientStore
from app.core.clock import SystemClock
from app.models import Role
from app.services.principals import Principal, PrincipalCache, UserSnapshot
from tests.support.stores import DeadStore


@pytest.fixture(params=["memory", "resilient", "resilient-degraded", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "resilient":
        yield ResilientStore(MemoryStore(), health=RedisHealth())
    elif request.param == "resilient-degraded":
        yield ResilientStore(DeadStore(), health=RedisHealth())
    else:
        url = os.environ.get("TEST_REDIS_URL")
        if not url:
            pytest.skip("needs Redis (TEST_REDIS_URL)")
        client = Redis.from_url(url)
        redis_store = RedisStore(client, prefix=f"test-principals-{uuid.uuid4().hex[:8]}")
        try:
            yield redis_store
        finally:
            await redis_store.clear("")
            await client.aclose()


def principal() -> Principal:
    now = datetime.now(UTC)
    user = UserSnapshot(uuid.uuid4(), "a@example.com", None, Role.ADMIN, True, True, now, ())
    return Principal(user, uuid.uuid4(), now + timedelta(days=1))


async def _expire_generation(store: Store, user_id: uuid.UUID) -> None:
    """What the generation key's TTL running out does."""
    await store.delete(f"cache:ugen:{user_id}")


async def test_a_user_generation_never_repeats(store: Store) -> None:
    principals = PrincipalCache(Cache(store), SystemClock())
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    seen = []
    for _ in range(3):
        for _ in range(2):
            await principals.forget_user(user_id)
            seen.append((await principals.shared(session_id, user_id))[2])
        await _expire_generation(store, user_id)
    assert len(set(seen)) == len(seen), seen


async def test_a_snapshot_from_before_a_change_never_becomes_valid_again(store: Store) -> None:
    principals = PrincipalCache(Cache(store), SystemClock())
    admin = principal()
    user_id = admin.user.id
    await principals.forget_user(user_id)
    await principals.forget_user(user_id)
    _, _, generation = await principals.shared(admin.session_id, user_id)
    await principals.store(admin, generation)  # read as admin
    # Demoted; then the generation key expires and the user changes twice more.
    await principals.forget_user(user_id)
    await _expire_generation(store, user_id)
    await principals.forget_user(user_id)
    await principals.forget_user(user_id)
    cached, revoked, _ = await principals.shared(admin.session_id, user_id)
    assert cached is None and not revoked


async def test_a_per_process_fallback_copy_is_never_served() -> None:
    store = ResilientStore(DeadStore(), health=RedisHealth())
    cache = Cache(store)
    principals = PrincipalCache(cache, SystemClock())
    someone = principal()
    _, _, generation = await principals.shared(someone.session_id, someone.user.id)
    await principals.store(someone, generation)
    cached, revoked, _ = await principals.shared(someone.session_id, someone.user.id)
    assert cached is None and not revoked
    assert (cache.hits, cache.misses) == (0, 2)


async def test_every_shared_lookup_is_counted() -> None:
    cache = Cache(MemoryStore())
    principals = PrincipalCache(cache, SystemClock())
    someone = principal()
    _, _, generation = await principals.shared(someone.session_id, someone.user.id)
    assert (cache.hits, cache.misses) == (0, 1)
    await principals.store(someone, generation)
    cached, _, _ = await principals.shared(someone.session_id, someone.user.id)
    assert cached == someone
    assert (cache.hits, cache.misses) == (1, 1)
    await principals.revoke([someone.session_id], ttl=60)
    _, revoked, _ = await principals.shared(someone.session_id, someone.user.id)
    assert revoked and (cache.hits, cache.misses) == (2, 1)  # a tombstone answers too


async def test_while_recovery_runs_redis_serves_but_shared_principals_wait() -> None:
    """Between Redis answering again and its recovery hooks finishing, the store reports
    Redis (health and metrics read that), while the principal cache trusts none of its
    entries yet: they may predate revocations made during the outage."""
    health = RedisHealth()
    store = ResilientStore(MemoryStore(), health=health)
    cache = Cache(store)
    principals = PrincipalCache(cache, SystemClock(), health=health)
    someone = principal()
    _, _, generation = await principals.shared(someone.session_id, someone.user.id)
    await principals.store(someone, generation)
    release = asyncio.Event()
    health.on_recover.append(release.wait)

    health.mark_down(StoreUnavailable("down"))
    health.mark_up()
    assert health.recovering and store.backend == "memory"
    cached, _, _ = await principals.shared(someone.session_id, someone.user.id)
    assert cached is None
    release.set()
    for _ in range(3):  # the hook returns, then the recovery task finishes
        await asyncio.sleep(0)
    assert not health.recovering
    cached, _, _ = await principals.shared(someone.session_id, someone.user.id)
    assert cached == someone
