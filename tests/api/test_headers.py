"""Security headers on every kind of response, HSTS only over HTTPS, CORS from settings."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Harness, HarnessFactory, make_client

API_CSP = "default-src 'none'; frame-ancestors 'none'"
COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "x-xss-protection": "0",
    "referrer-policy": "no-referrer",
}
ORIGIN = "https://app.example.com"


def assert_security_headers(response: httpx.Response, csp: str | None = API_CSP) -> None:
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, name
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    if csp is not None:
        assert response.headers["content-security-policy"] == csp
    assert "strict-transport-security" not in response.headers


async def test_json_success_error_and_429_responses(make_harness: HarnessFactory) -> None:
    harness = await make_harness(RATE_LIMIT_PER_MINUTE=1)
    assert_security_headers(await harness.client.get("/health"))
    first = await harness.client.get("/api/v1/nope")
    assert first.status_code == 404
    assert_security_headers(first)
    limited = await harness.client.get("/api/v1/nope")
    assert limited.status_code == 429
    assert_security_headers(limited)
    assert limited.headers["cache-control"] == "no-store"


async def test_docs_get_a_csp_that_allows_only_their_own_assets(harness: Harness) -> None:
    for path in ("/docs", "/redoc"):
        response = await harness.client.get(path)
        assert response.status_code == 200
        assert_security_headers(response, csp=None)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "worker-src 'self' blob:" in csp
        assert "http" not in csp  # no external host
        assert "<script>" not in response.text  # nothing inline to allow
    asset = await harness.client.get("/static/vendor/swagger-ui.css")
    assert asset.status_code == 200
    assert_security_headers(asset, csp=None)


async def test_token_and_authenticated_answers_are_not_cached(harness: Harness) -> None:
    email = await harness.user()
    response = await harness.client.post(
        "/api/v1/auth/login", json={"email": email, "password": "correct horse battery staple"}
    )
    assert response.headers["cache-control"] == "no-store"
    profile = await harness.client.get(
        "/api/v1/users/profile",
        headers={"Authorization": f"Bearer {response.json()['access_token']}"},
    )
    assert profile.headers["cache-control"] == "no-store"


async def test_hsts_only_over_https(make_harness: HarnessFactory) -> None:
    harness = await make_harness(TRUSTED_PROXIES="10.0.0.0/8")
    https = make_client(harness.app, base_url="https://testserver")
    async with https:
        response = await https.get("/health")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    # X-Forwarded-Proto counts only from a trusted proxy.
    forged = await harness.client.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in forged.headers
    proxy = harness.new_client(peer=("10.1.2.3", 443))
    proxied = await proxy.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" in proxied.headers


async def test_cors_preflight_for_an_allowed_origin(make_harness: HarnessFactory) -> None:
    harness = await make_harness(BACKEND_CORS_ORIGINS=f'["{ORIGIN}"]')
    response = await harness.client.options(
        "/api/v1/auth/login",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "Origin" in response.headers["vary"]
    assert "POST" in response.headers["access-control-allow-methods"]
    assert_security_headers(response, csp=API_CSP)
    simple = await harness.client.get("/health", headers={"Origin": ORIGIN})
    assert simple.headers["access-control-allow-origin"] == ORIGIN
    assert "Origin" in simple.headers["vary"]
    assert "RateLimit-Remaining" in simple.headers.get("access-control-expose-headers", "")


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "https://app.example.com.evil"])
async def test_cors_preflight_for_a_refused_origin(
    make_harness: HarnessFactory, origin: str
) -> None:
    harness = await make_harness(BACKEND_CORS_ORIGINS=ORIGIN)
    response = await harness.client.options(
        "/api/v1/auth/login",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "cors_rejected"
    assert "access-control-allow-origin" not in response.headers
    assert_security_headers(response)
    simple = await harness.client.get("/health", headers={"Origin": origin})
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers


async def test_no_origins_configured_refuses_every_preflight(harness: Harness) -> None:
    response = await harness.client.options(
        "/api/v1/auth/login",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 400 and response.json()["code"] == "cors_rejected"
