"""/metrics: Prometheus text, route templates only, auth events, gauges, no user data."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.conftest import Harness, HarnessFactory
from tests.support.flows import PASSWORD, bearer, login
from tests.support.prom import label_values, value

REQUESTS = "auth_http_requests_total"
LATENCY = "auth_http_request_duration_seconds_count"
EVENTS = "auth_security_events_total"


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return response.text


async def test_public_and_outside_the_openapi_document(harness: Harness) -> None:
    text = await scrape(harness.client)  # no token needed
    assert "# TYPE auth_http_requests_total counter" in text
    assert "/metrics" not in (await harness.client.get("/openapi.json")).json()["paths"]


async def test_requests_are_labelled_by_route_template(harness: Harness) -> None:
    email = await harness.user()
    pair = await harness.login(email)
    session_id = str(uuid.uuid4())
    route = "/api/v1/users/sessions/{session_id}"
    before = await scrape(harness.client)
    await harness.client.delete(
        f"/api/v1/users/sessions/{session_id}", headers=bearer(pair["access_token"])
    )
    await harness.client.get("/no/such/page/12345?token=secret-query-value")
    await harness.client.request("BREW", "/health")
    after = await scrape(harness.client)

    delta = value(after, REQUESTS, route=route, method="DELETE", status="404") - value(
        before, REQUESTS, route=route, method="DELETE", status="404"
    )
    assert delta == 1
    assert (
        value(after, LATENCY, route=route, method="DELETE")
        - value(before, LATENCY, route=route, method="DELETE")
        == 1
    )
    assert value(after, REQUESTS, route="<unmatched>", status="404") > value(
        before, REQUESTS, route="<unmatched>", status="404"
    )
    assert value(after, REQUESTS, route="/health", method="OTHER") > value(
        before, REQUESTS, route="/health", method="OTHER"
    )
    # Nothing personal or request-specific ends up in a label.
    for leak in (session_id, "12345", "secret-query-value", email, "BREW"):
        assert leak not in after
    assert label_values(after, REQUESTS, "method") <= {
        "GET",
        "HEAD",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
        "OPTIONS",
        "OTHER",
    }


async def test_auth_events_are_counted(harness: Harness) -> None:
    email = await harness.user()
    before = await scrape(harness.client)
    pair = await harness.login(email)
    await login(harness.client, email, "not the right password")
    refreshed = await harness.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 200
    reuse = await harness.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert reuse.status_code == 401
    after = await scrape(harness.client)
    for event in ("login_success", "login_failed", "token_refreshed", "refresh_token_reuse"):
        assert value(after, EVENTS, event=event) - value(before, EVENTS, event=event) == 1, event
    for secret in (email, PASSWORD, pair["access_token"], pair["refresh_token"]):
        assert secret not in after


async def test_unhandled_errors_count_as_500(harness: Harness) -> None:
    async def boom() -> None:
        raise RuntimeError("kaboom")

    harness.app.add_api_route("/test-boom", boom)
    before = await scrape(harness.client)
    response = await harness.client.get("/test-boom")
    assert response.status_code == 500
    after = await scrape(harness.client)
    labels = {"route": "/test-boom", "method": "GET", "status": "500"}
    assert value(after, REQUESTS, **labels) - value(before, REQUESTS, **labels) == 1


async def test_pool_gauge(harness: Harness) -> None:
    text = await scrape(harness.client)
    assert label_values(text, "auth_db_pool_connections", "state") == {
        "size",
        "checked_out",
        "overflow",
    }


async def test_store_degraded_gauge_follows_redis(make_harness: HarnessFactory) -> None:
    down = await make_harness(REDIS_URL="redis://127.0.0.1:1/0")
    text = await scrape(down.client)
    assert value(text, "auth_store_degraded") == 1
    assert value(text, "auth_store_failovers_total") >= 1
    healthy = await make_harness()
    text = await scrape(healthy.client)
    # Without Redis there is nothing to degrade from; with it, it answers.
    assert value(text, "auth_store_degraded") == 0


async def test_every_kind_of_route_gets_a_bounded_template(harness: Harness) -> None:
    paths = {
        "/health": "/health",
        "/openapi.json": "/openapi.json",
        "/docs": "/docs",
        "/static/vendor/swagger-ui.css": "/static/vendor/{path}",
        "/static/vendor/no-such-file-zqxj.js": "/static/vendor/{path}",
        "/static/app/swagger-init.js": "/static/app/{path}",
        "/api/v1/users/profile": "/api/v1/users/profile",
        "/api/v1/no-such-route-zqxj": "<unmatched>",
        "/health/": "<unmatched>",  # a redirect to /health
    }
    before = await scrape(harness.client)
    for path in paths:
        await harness.client.get(path)
    after = await scrape(harness.client)
    for template in set(paths.values()):
        assert value(after, REQUESTS, route=template) > value(before, REQUESTS, route=template)
    # Raw paths never become labels (a numeric marker could match a timestamp).
    assert "zqxj" not in after


async def test_refused_requests_name_their_route(
    make_harness: HarnessFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 429 is answered before routing, yet its line and metrics name the route."""
    harness = await make_harness(RATE_LIMIT_PER_MINUTE=1, LOG_LEVEL="INFO")
    session_id = str(uuid.uuid4())
    refused = {
        ("DELETE", f"/api/v1/users/sessions/{session_id}"): "/api/v1/users/sessions/{session_id}",
        ("POST", "/api/v1/auth/login"): "/api/v1/auth/login",
        ("PUT", "/api/v1/auth/login"): "/api/v1/auth/login",  # would be a 405
        ("GET", "/static/vendor/swagger-ui.css"): "/static/vendor/{path}",
        ("GET", "/api/v1/no-such-route-zqxj"): "<unmatched>",
    }
    assert (await harness.client.get("/api/v1/users/profile")).status_code == 401  # the budget
    before = await scrape(harness.client)
    capsys.readouterr()
    for _ in range(2):  # the second time from the remembered answer
        for method, path in refused:
            assert (await harness.client.request(method, path)).status_code == 429
    after = await scrape(harness.client)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line[:1] == "{"]
    logged = [(line["method"], line["route"]) for line in lines if line.get("status") == 429]
    assert logged == [(method, refused[method, path]) for method, path in refused] * 2
    for (method, _), template in refused.items():
        labels = {"route": template, "method": method, "status": "429"}
        assert value(after, REQUESTS, **labels) - value(before, REQUESTS, **labels) == 2
    assert session_id not in after and "zqxj" not in after
