"""Admin cache endpoints: statistics, and a reset that leaves limits and lockouts alone."""

from __future__ import annotations

import pytest

from tests.conftest import Harness, HarnessFactory
from tests.support.flows import bearer, login, new_email

STATS = "/api/v1/cache/stats"
CLEAR = "/api/v1/cache"


@pytest.mark.parametrize(("method", "path"), [("GET", STATS), ("DELETE", CLEAR)])
async def test_admin_only(harness: Harness, method: str, path: str) -> None:
    assert (await harness.client.request(method, path)).status_code == 401
    pair = await harness.login(await harness.user())
    response = await harness.client.request(method, path, headers=bearer(pair["access_token"]))
    assert response.status_code == 403


async def test_stats_report_backend_keys_hits_misses_memory(harness: Harness) -> None:
    _, pair = await harness.admin()
    # Authenticated requests cache their caller too (see app/services/principals.py).
    warm = await harness.client.get(STATS, headers=bearer(pair["access_token"]))
    before = warm.json()["keys"]
    cache = harness.ctx.cache
    # Principal lookups count too (tests/api/test_degraded_store.py); start from zero.
    harness.ctx.principals._local.clear()
    await harness.client.get(STATS, headers=bearer(pair["access_token"]))  # a shared hit
    cache.hits = cache.misses = 0
    await cache.set("user:1", {"role": "user"})
    await cache.set("user:2", {"role": "admin"})
    await cache.get("user:1")
    await cache.get("user:3")
    harness.ctx.principals._local.clear()  # the caller, from the shared cache: one more hit
    response = await harness.client.get(STATS, headers=bearer(pair["access_token"]))
    assert response.status_code == 200
    body = response.json()
    redis = bool(harness.settings.REDIS_URL)
    assert body["backend"] == ("redis" if redis else "memory")
    expected_namespace = f"{harness.settings.REDIS_KEY_PREFIX}:cache:" if redis else "cache:"
    assert body["namespace"] == expected_namespace
    assert body["keys"] == before + 2
    assert (body["hits"], body["misses"], body["hit_ratio"]) == (2, 1, 0.6667)
    assert body["memory_bytes"] > 0


async def test_clear_empties_the_cache_but_keeps_lockouts_and_limits(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(ACCOUNT_LOCKOUT_THRESHOLD=2)
    _, pair = await harness.admin()
    victim = await harness.user()
    for _ in range(2):
        await login(harness.client, victim, "wrong password entirely")
    assert (await login(harness.client, victim)).status_code == 423
    store = harness.ctx.store
    await store.set("rl:login:127.0.0.1", "7", ttl=60)
    for i in range(3):
        await harness.ctx.cache.set(f"user:{i}", i)

    response = await harness.client.delete(CLEAR, headers=bearer(pair["access_token"]))
    assert response.status_code == 200
    # The three entries, plus whatever the request path cached about its callers.
    assert response.json()["deleted"] >= 3
    assert await harness.ctx.cache.get_many(["user:0", "user:1", "user:2"]) == [None] * 3
    assert await store.get("rl:login:127.0.0.1") == "7"
    assert (await login(harness.client, victim)).status_code == 423  # still locked
    again = await harness.client.delete(CLEAR, headers=bearer(pair["access_token"]))
    assert again.json()["deleted"] <= 2  # at most the admin's own session and user entries


async def test_clear_leaves_other_applications_sharing_the_redis(
    make_harness: HarnessFactory,
) -> None:
    ours = await make_harness()
    neighbour = await make_harness()  # another key prefix, as another app would have
    await neighbour.ctx.cache.set("user:1", "theirs")
    await ours.ctx.cache.set("user:1", "ours")
    _, pair = await ours.admin()
    response = await ours.client.delete(CLEAR, headers=bearer(pair["access_token"]))
    assert response.json()["deleted"] >= 1
    assert await neighbour.ctx.cache.get("user:1") == "theirs"


async def test_the_cache_is_on_the_service_context(harness: Harness) -> None:
    # The interface the authenticated request path can use: get/set with TTL, delete-many.
    cache = harness.ctx.cache
    email = new_email()
    await cache.set(f"user:{email}", {"email": email}, ttl=30)
    assert await cache.get(f"user:{email}") == {"email": email}
    assert await cache.delete(f"user:{email}", "user:other") == 1
