"""Admin health views: /api/v1/health/detailed and /api/v1/health/database."""

from __future__ import annotations

import json

import pytest

from app import __version__
from tests.conftest import Harness, HarnessFactory
from tests.support.flows import PASSWORD, bearer

DETAILED = "/api/v1/health/detailed"
DATABASE = "/api/v1/health/database"
CLOSED_REDIS = "redis://127.0.0.1:1/0"


@pytest.mark.parametrize("path", [DETAILED, DATABASE])
async def test_admin_only(harness: Harness, path: str) -> None:
    assert (await harness.client.get(path)).status_code == 401
    pair = await harness.login(await harness.user())
    denied = await harness.client.get(path, headers=bearer(pair["access_token"]))
    assert denied.status_code == 403
    assert denied.json()["code"] == "forbidden"


async def test_detailed_reports_database_redis_pool_uptime_version(harness: Harness) -> None:
    _, pair = await harness.admin()
    response = await harness.client.get(DETAILED, headers=bearer(pair["access_token"]))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert body["uptime_seconds"] >= 0
    database = body["database"]
    assert database["status"] == "ok"
    assert database["backend"] in ("sqlite", "postgresql")
    assert database["latency_ms"] > 0
    assert set(database["pool"]) == {"kind", "size", "checked_out", "checked_in", "overflow"}
    redis = body["redis"]
    if harness.settings.REDIS_URL:
        assert redis["status"] == "ok" and redis["backend"] == "redis"
        assert redis["latency_ms"] > 0
    else:
        assert redis == {"status": "not_configured", "backend": "memory", "latency_ms": None}
    assert response.headers["cache-control"] == "no-store"


async def test_degraded_when_redis_is_configured_but_unreachable(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(REDIS_URL=CLOSED_REDIS)
    # The service keeps answering on its per-process fallback...
    _, pair = await harness.admin()
    response = await harness.client.get(DETAILED, headers=bearer(pair["access_token"]))
    assert response.status_code == 200
    body = response.json()
    # ...and says so.
    assert body["status"] == "degraded"
    assert body["database"]["status"] == "ok"
    assert body["redis"] == {"status": "down", "backend": "memory-fallback", "latency_ms": None}


async def test_down_when_the_database_stops_answering(harness: Harness) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
    from sqlmodel.ext.asyncio.session import AsyncSession

    from app.services.health import detailed_health

    working = harness.ctx.sessionmaker
    broken = create_async_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/nothing", connect_args={"connect_timeout": 1}
    )
    harness.ctx.sessionmaker = async_sessionmaker(broken, class_=AsyncSession)
    try:
        report = await detailed_health(harness.ctx)
    finally:
        harness.ctx.sessionmaker = working
        await broken.dispose()
    assert report.status == "down"
    assert report.database.status == "down" and report.database.latency_ms is None


async def test_database_stats_count_queries_and_keep_slow_ones_without_parameters(
    make_harness: HarnessFactory,
) -> None:
    # Every statement counts as slow, so the parameters of a login pass through the hooks.
    harness = await make_harness(SLOW_QUERY_MS=0.000001)
    email, pair = await harness.admin()
    before = (await harness.client.get(DATABASE, headers=bearer(pair["access_token"]))).json()
    # The session list always reads the database (the profile may come from the cache).
    await harness.client.get("/api/v1/users/sessions", headers=bearer(pair["access_token"]))
    response = await harness.client.get(DATABASE, headers=bearer(pair["access_token"]))
    assert response.status_code == 200
    body = response.json()
    assert body["query_count"] > before["query_count"] > 0
    assert body["mean_ms"] > 0 and body["p95_ms"] > 0
    assert body["slow_threshold_ms"] == 0.000001
    assert body["slow_count"] >= len(body["slow_queries"]) > 0
    assert set(body["pool"]) == {"kind", "size", "checked_out", "checked_in", "overflow"}
    statements = [q["statement"] for q in body["slow_queries"]]
    assert any(s.upper().startswith("SELECT") and "users" in s for s in statements)
    text = json.dumps(body)
    for secret in (email, PASSWORD, pair["access_token"], pair["refresh_token"]):
        assert secret not in text
    # The user's id, bound as a parameter on every authenticated request, is absent too.
    me = await harness.client.get("/api/v1/users/profile", headers=bearer(pair["access_token"]))
    assert me.json()["id"] not in text
    assert me.json()["id"].replace("-", "") not in text
