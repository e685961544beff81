"""Resilience against the real services: PostgreSQL connections killed or refused, and
two processes sharing one PostgreSQL and one Redis. Skipped without them."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import Harness, empty_database
from tests.support.flows import API, PASSWORD, bearer
from tests.support.server import backend, running_server, server_env

needs_postgres = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL (TEST_DATABASE_URL)"
)
needs_redis = pytest.mark.skipif(
    not os.environ.get("TEST_REDIS_URL"), reason="needs Redis (TEST_REDIS_URL)"
)


def _admin(url: str) -> tuple[str, str]:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    ), str(parsed.database)


def _kill_connections(url: str) -> int:
    admin, name = _admin(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


def _allow_connections(url: str, allowed: bool) -> None:
    admin, name = _admin(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')


@needs_postgres
async def test_killed_connections_mid_traffic(harness: Harness) -> None:
    email = await harness.user()
    token = (await harness.login(email))["access_token"]
    statuses: Counter[int] = Counter()
    slowest = 0.0
    stop = asyncio.Event()

    async def traffic() -> None:
        nonlocal slowest
        while not stop.is_set():
            start = time.perf_counter()
            response = await harness.client.get(f"{API}/users/profile", headers=bearer(token))
            slowest = max(slowest, time.perf_counter() - start)
            statuses[response.status_code] += 1

    workers = [asyncio.create_task(traffic()) for _ in range(4)]
    try:
        for _ in range(3):
            await asyncio.sleep(0.2)
            assert await asyncio.to_thread(_kill_connections, harness.settings.database_url) >= 0
        await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.gather(*workers)
    assert set(statuses) <= {200, 503}, statuses  # never a 500
    assert statuses[200] > 0 and slowest < 5
    # The pool has recovered: every request succeeds again.
    for _ in range(5):
        response = await harness.client.get(f"{API}/users/profile", headers=bearer(token))
        assert response.status_code == 200
    assert (await harness.client.get("/health/ready")).status_code == 200


@needs_postgres
async def test_refused_database_is_503_fast_and_recovers(harness: Harness) -> None:
    email = await harness.user()
    token = (await harness.login(email))["access_token"]
    url = harness.settings.database_url
    await asyncio.to_thread(_allow_connections, url, False)
    try:
        await asyncio.to_thread(_kill_connections, url)
        start = time.perf_counter()
        ready = await harness.client.get("/health/ready")
        profile = await harness.client.get(f"{API}/users/profile", headers=bearer(token))
        elapsed = time.perf_counter() - start
    finally:
        await asyncio.to_thread(_allow_connections, url, True)
    assert ready.status_code == 503 and ready.json()["database"] == "down"
    assert profile.status_code == 503
    assert profile.json() == {
        "detail": "The database is unavailable; try again shortly",
        "code": "service_unavailable",
    }
    assert profile.headers["retry-after"] == "5"
    assert elapsed < 5  # refused, not hanging
    harness.clock.advance(seconds=1)  # readiness answers are kept for a second
    assert (await harness.client.get("/health/ready")).status_code == 200
    profile = await harness.client.get(f"{API}/users/profile", headers=bearer(token))
    assert profile.status_code == 200


@needs_postgres
@needs_redis
def test_two_processes_share_revocations_and_budgets(tmp_path: Path) -> None:
    with empty_database(tmp_path) as database_url:
        env = server_env(
            DATABASE_URL=database_url,
            REDIS_URL=os.environ["TEST_REDIS_URL"],
            REDIS_KEY_PREFIX=f"test-two-{os.getpid()}",
            RATE_LIMIT_PER_MINUTE="30",
            AUTH_RATE_LIMIT_PER_MINUTE="1000",
        )
        backend("migrate", env=env, cwd=tmp_path)
        email = "two@example.com"
        backend("create-admin", "--email", email, "--password", PASSWORD, env=env, cwd=tmp_path)
        with (
            running_server(env, tmp_path, name="a") as a,
            running_server(env, tmp_path, name="b") as b,
            httpx.Client(timeout=10) as client,
        ):
            pair = client.post(
                f"{a.base}{API}/auth/login", json={"email": email, "password": PASSWORD}
            ).json()
            headers = bearer(pair["access_token"])
            assert client.get(f"{b.base}{API}/users/profile", headers=headers).status_code == 200
            assert client.post(f"{a.base}{API}/auth/logout", headers=headers).status_code == 204
            revoked_at = time.monotonic()
            while client.get(f"{b.base}{API}/users/profile", headers=headers).status_code != 401:
                assert time.monotonic() - revoked_at < 1.0, "B still accepts a revoked session"
                time.sleep(0.05)
            # One budget across both processes: 30 per minute for this client, in total.
            used = 4  # login, two profile calls and logout above (and the polling below)
            statuses = []
            for i in range(40):
                server = a if i % 2 == 0 else b
                statuses.append(client.get(f"{server.base}{API}/nope").status_code)
            assert 429 in statuses
            allowed = statuses.index(429)
            assert allowed <= 30 - used
            assert all(status == 429 for status in statuses[allowed:])
