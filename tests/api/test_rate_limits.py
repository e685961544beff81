from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import HarnessFactory
from tests.support.flows import API, login, new_email
from tests.support.redis_server import redis_server


def _limit_headers(response: object) -> tuple[int, int, int]:
    headers = response.headers  # type: ignore[attr-defined]
    return (
        int(headers["ratelimit-limit"]),
        int(headers["ratelimit-remaining"]),
        int(headers["ratelimit-reset"]),
    )


async def test_global_limit_boundary_and_headers(make_harness: HarnessFactory) -> None:
    harness = await make_harness(RATE_LIMIT_PER_MINUTE=5)
    remaining = []
    for _ in range(5):
        response = await harness.client.get("/api/v1/users/profile")
        assert response.status_code == 401
        limit, left, reset = _limit_headers(response)
        assert limit == 5 and 0 <= reset <= 60
        remaining.append(left)
    assert remaining == [4, 3, 2, 1, 0]
    refused = await harness.client.get("/api/v1/users/profile")
    assert refused.status_code == 429
    assert refused.json() == {"detail": "Too many requests; slow down", "code": "rate_limited"}
    assert _limit_headers(refused)[:2] == (5, 0)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    for header in ("x-content-type-options", "content-security-policy", "x-request-id"):
        assert header in refused.headers
    # Another client has its own budget; probes are never limited.
    other = harness.new_client(peer=("192.0.2.10", 1))
    assert (await other.get("/api/v1/users/profile")).status_code == 401
    for _ in range(10):
        health = await harness.client.get("/health")
        assert health.status_code == 200 and "ratelimit-limit" not in health.headers
    assert (await harness.client.get("/health/ready")).status_code == 200
    jwks = await harness.client.get("/.well-known/jwks.json")
    assert jwks.status_code == 200 and "ratelimit-limit" not in jwks.headers


async def test_each_auth_route_has_its_own_budget(make_harness: HarnessFactory) -> None:
    harness = await make_harness(AUTH_RATE_LIMIT_PER_MINUTE=3, RATE_LIMIT_PER_MINUTE=1000)
    statuses = []
    for _ in range(4):
        response = await login(harness.client, new_email(), "some password")
        statuses.append(response.status_code)
    assert statuses == [401, 401, 401, 429]
    # The tightest limit that applied is the one described.
    response = await harness.client.post(f"{API}/auth/password-reset", json={"email": new_email()})
    assert response.status_code == 202 and _limit_headers(response)[:2] == (3, 2)
    form = await harness.client.post(
        f"{API}/auth/token", data={"username": new_email(), "password": "x"}
    )
    assert form.status_code == 401
    register = await harness.client.post(
        f"{API}/auth/register", json={"email": new_email(), "password": "pass phrase ok"}
    )
    assert register.status_code == 201


async def test_login_is_limited_per_account_across_addresses(make_harness: HarnessFactory) -> None:
    harness = await make_harness(AUTH_RATE_LIMIT_PER_MINUTE=3, RATE_LIMIT_PER_MINUTE=1000)
    email = new_email()
    statuses = []
    for i in range(4):
        client = harness.new_client(peer=(f"198.51.100.{i}", 1))
        statuses.append((await login(client, email.upper(), "some password")).status_code)
    assert statuses == [401, 401, 401, 429]


async def test_headers_describe_the_per_account_budget_when_it_is_tightest(
    make_harness: HarnessFactory,
) -> None:
    """The per-account check runs inside the login service; its decision reaches the
    response headers through the request's context."""
    harness = await make_harness(AUTH_RATE_LIMIT_PER_MINUTE=3, RATE_LIMIT_PER_MINUTE=1000)
    email = new_email()
    remaining = []
    for i in range(3):
        # A fresh address each time: its own route budget has 2 left, the account's less.
        client = harness.new_client(peer=(f"198.51.100.{i}", 1))
        response = await login(client, email, "some password")
        assert response.status_code == 401
        remaining.append(_limit_headers(response)[:2])
    assert remaining == [(3, 2), (3, 1), (3, 0)]


@pytest.mark.parametrize("path", ["/auth/password-reset", "/auth/verify-email/resend"])
async def test_mail_routes_limit_known_and_unknown_addresses_alike(
    make_harness: HarnessFactory, path: str
) -> None:
    harness = await make_harness(AUTH_RATE_LIMIT_PER_MINUTE=2, RATE_LIMIT_PER_MINUTE=1000)
    known = await harness.user()
    results = {}
    for email in (known, new_email()):
        answers = []
        for i in range(3):
            client = harness.new_client(peer=(f"203.0.113.{len(results) * 10 + i}", 1))
            response = await client.post(f"{API}{path}", json={"email": email})
            answers.append((response.status_code, response.json(), _limit_headers(response)[:2]))
        results[email] = answers
    known_answers, unknown_answers = results.values()
    assert known_answers == unknown_answers
    assert [status for status, _, _ in known_answers] == [202, 202, 429]


async def test_forwarded_for_is_ignored_unless_the_peer_is_trusted(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(RATE_LIMIT_PER_MINUTE=2)
    for i in range(2):
        await harness.client.get("/api/v1/nope", headers={"X-Forwarded-For": f"10.9.9.{i}"})
    spoofed = await harness.client.get("/api/v1/nope", headers={"X-Forwarded-For": "10.9.9.99"})
    assert spoofed.status_code == 429

    trusting = await make_harness(RATE_LIMIT_PER_MINUTE=2, TRUSTED_PROXIES="127.0.0.1")
    for i in range(6):  # six different clients behind the proxy
        response = await trusting.client.get(
            "/api/v1/nope", headers={"X-Forwarded-For": f"6.6.6.6, 10.9.9.{i}"}
        )
        assert response.status_code == 404, i
    same = [
        (
            await trusting.client.get("/api/v1/nope", headers={"X-Forwarded-For": "10.9.9.0"})
        ).status_code
        for _ in range(2)
    ]
    assert same == [404, 429]  # 10.9.9.0 had used one of its two already


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="needs Redis (TEST_REDIS_URL)")
async def test_two_instances_share_one_budget(make_harness: HarnessFactory) -> None:
    first = await make_harness(RATE_LIMIT_PER_MINUTE=6, REDIS_KEY_PREFIX="test-shared-budget")
    second = await make_harness(RATE_LIMIT_PER_MINUTE=6, REDIS_KEY_PREFIX="test-shared-budget")
    statuses = []
    for i in range(8):
        client = first.client if i % 2 == 0 else second.client
        statuses.append((await client.get("/api/v1/nope")).status_code)
    assert statuses == [404] * 6 + [429, 429]
    assert first.ctx.limiter.backend == second.ctx.limiter.backend == "redis"


async def test_redis_outage_falls_back_per_process_and_recovers(
    make_harness: HarnessFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with redis_server(tmp_path) as server:
        # Under 32 a budget is never reserved in batches: every request asks Redis.
        harness = await make_harness(RATE_LIMIT_PER_MINUTE=30, REDIS_URL=server.url)
        health = harness.ctx.redis_health
        assert health is not None
        health.retry_after = 0.0  # retry Redis on every call, so recovery is immediate
        assert (await harness.client.get("/api/v1/nope")).status_code == 404
        assert harness.ctx.limiter.backend == "redis"

        server.stop()
        statuses = [(await harness.client.get("/api/v1/nope")).status_code for _ in range(5)]
        assert statuses == [404] * 5  # still answering, limited per process
        assert health.degraded and harness.ctx.limiter.backend == "memory-fallback"
        email = new_email()
        assert (await login(harness.client, email, "wrong password")).status_code == 401
        outage_logs = [
            line for line in capsys.readouterr().err.splitlines() if "redis_unavailable" in line
        ]
        assert len(outage_logs) == 1  # logged once, not per request

        server.start()
        assert (await harness.client.get("/api/v1/nope")).status_code == 404
        assert not health.degraded and harness.ctx.limiter.backend == "redis"


async def test_ipv6_clients_share_a_budget_per_64(make_harness: HarnessFactory) -> None:
    harness = await make_harness(RATE_LIMIT_PER_MINUTE=2)
    statuses = []
    for host in ("2001:db8:0:1::a", "2001:db8:0:1::b", "2001:db8:0:1::c", "2001:db8:0:2::a"):
        client = harness.new_client(peer=(host, 1))
        statuses.append((await client.get("/api/v1/nope")).status_code)
    assert statuses == [404, 404, 429, 404]  # a fourth /64 has its own budget
