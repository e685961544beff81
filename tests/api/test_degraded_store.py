"""While Redis is unreachable, two workers on one database still see each other's
revocations, deactivations and role changes within the 1 s local cache (SPEC §6
"Hardening"): principal data then comes from the database, never from a
per-process fallback copy. Two apps in one event loop stand for two workers:
each has its own fallback memory, exactly as two processes would."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.conftest import Harness, HarnessFactory
from tests.support.flows import API, bearer
from tests.support.redis_server import redis_server
from tests.support.tcp_proxy import TcpProxy

# Nothing listens there: every Redis call is refused at once.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
LOCAL_CACHE_BOUND = 1.0


async def _user_id(harness: Harness, email: str) -> str:
    response = await harness.client.get(
        f"{API}/users/profile", headers=bearer((await harness.login(email))["access_token"])
    )
    return str(response.json()["id"])


async def test_changes_on_one_worker_reach_the_other_within_a_second(
    make_harness: HarnessFactory,
) -> None:
    a = await make_harness(REDIS_URL=UNREACHABLE_REDIS)
    b = await make_harness(REDIS_URL=UNREACHABLE_REDIS)
    assert a.ctx.store.backend == "memory-fallback"
    _, boss = await a.admin()
    boss_headers = bearer(boss["access_token"])
    # Three callers, each seen (and so cached) by worker B first.
    leaver_email = await a.user()
    leaver = bearer((await a.login(leaver_email))["access_token"])
    demoted_email, demoted_pair = await a.admin()
    demoted = bearer(demoted_pair["access_token"])
    logged_out = bearer((await a.login(await a.user()))["access_token"])
    checks: dict[str, tuple[str, dict[str, str], int]] = {
        "deactivated": ("/users/profile", leaver, 401),
        "demoted": ("/admin/users", demoted, 403),
        "logged out": ("/users/profile", logged_out, 401),
    }
    for path, headers, _ in checks.values():
        assert (await b.client.get(f"{API}{path}", headers=headers)).status_code == 200

    # On worker A: deactivate, demote, log out.
    leaver_id = await _user_id(a, leaver_email)
    demoted_id = await _user_id(a, demoted_email)
    for target, change in ((leaver_id, {"is_active": False}), (demoted_id, {"role": "user"})):
        response = await a.client.patch(
            f"{API}/admin/users/{target}", json=change, headers=boss_headers
        )
        assert response.status_code == 200, response.text
    assert (await a.client.post(f"{API}/auth/logout", headers=logged_out)).status_code == 204
    changed_at = time.monotonic()

    pending = dict(checks)
    while pending:
        for name, (path, headers, expected) in list(pending.items()):
            if (await b.client.get(f"{API}{path}", headers=headers)).status_code == expected:
                del pending[name]
        waited = time.monotonic() - changed_at
        assert waited < LOCAL_CACHE_BOUND + 0.5, f"worker B still trusts: {sorted(pending)}"
    # Nothing made B's answers come from a copy of its own.
    assert b.ctx.store.backend == "memory-fallback"


async def test_principal_lookups_move_the_cache_statistics(harness: Harness) -> None:
    """Every lookup of a caller is counted (issue: stats stayed at 0/0, and
    auth_cache_lookups_total was missing from /metrics)."""
    _, pair = await harness.admin()
    headers = bearer(pair["access_token"])
    cache = harness.ctx.cache
    before = (cache.hits, cache.misses)
    await harness.client.get(f"{API}/users/profile", headers=headers)  # from the database
    harness.ctx.principals._local.clear()  # as after the 1 s local expiry
    await harness.client.get(f"{API}/users/profile", headers=headers)  # from the shared cache
    assert (cache.hits - before[0], cache.misses - before[1]) == (1, 1)
    harness.ctx.principals._local.clear()
    stats = (await harness.client.get(f"{API}/cache/stats", headers=headers)).json()
    assert (stats["hits"], stats["misses"]) == (cache.hits, cache.misses)
    assert stats["hits"] >= 2
    metrics = (await harness.client.get("/metrics")).text
    assert 'auth_cache_lookups_total{result="hit"}' in metrics
    assert 'auth_cache_lookups_total{result="miss"}' in metrics


async def test_a_sign_out_during_an_outage_holds_once_redis_is_back(
    make_harness: HarnessFactory, tmp_path: Path
) -> None:
    """Redis unreachable from the workers but keeping its data: worker A signs a session
    out meanwhile (its revocation marker never reaches Redis). When Redis is back, the
    first worker to notice drops the shared principal entries, so worker B, which never
    saw the outage, does not take the stale one still in Redis for a live session."""
    with redis_server(tmp_path) as server:
        proxy = TcpProxy(server.port)
        await proxy.start()
        url = f"redis://127.0.0.1:{proxy.port}/0"
        a = await make_harness(REDIS_URL=url)
        b = await make_harness(REDIS_URL=url, REDIS_KEY_PREFIX=a.settings.REDIS_KEY_PREFIX)
        for worker in (a, b):
            assert worker.ctx.redis_health is not None
            worker.ctx.redis_health.retry_after = 0.0  # try Redis on every call
        headers = bearer((await a.login(await a.user()))["access_token"])
        assert (await b.client.get(f"{API}/users/profile", headers=headers)).status_code == 200
        seen_by_b = time.monotonic()

        await proxy.cut()
        assert (await a.client.post(f"{API}/auth/logout", headers=headers)).status_code == 204
        assert a.ctx.redis_health.degraded
        await proxy.start()
        # A's next call reaches Redis again; its recovery runs in the background.
        assert (await a.client.get(f"{API}/users/profile", headers=headers)).status_code == 401
        assert not a.ctx.redis_health.degraded
        await asyncio.sleep(max(0.2, LOCAL_CACHE_BOUND + 0.1 - (time.monotonic() - seen_by_b)))

        answer = await b.client.get(f"{API}/users/profile", headers=headers)
        assert answer.status_code == 401, "worker B served a session signed out during the outage"
        await proxy.cut()
