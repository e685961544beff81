"""No authorization code, state, exchange code, token or client secret in logs or audit rows."""

from __future__ import annotations

import json

import pytest

from tests.conftest import HarnessFactory
from tests.support import oauth_flow
from tests.support.oauth_flow import query
from tests.support.oauth_provider import (
    GITHUB_CLIENT_SECRET,
    GITHUB_USER,
    GOOGLE_CLIENT_SECRET,
)

# The test's own browser is an httpx client too; its request lines are not the app's.
BROWSER_URLS = ("http://testserver/", "/o/oauth2/v2/auth?", "/login/oauth/authorize?")


def app_lines(output: str) -> list[str]:
    lines = []
    for line in output.splitlines():
        if '"logger": "httpx"' in line and any(url in line for url in BROWSER_URLS):
            continue
        lines.append(line)
    return lines


async def test_oauth_secrets_stay_out_of_logs_and_audit_rows(
    make_harness: HarnessFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    oauth = await oauth_flow.start(make_harness, LOG_LEVEL="DEBUG")
    browser = oauth.browser
    # A successful Google sign-in.
    callback = query(await browser.authorize("google"))
    binding = browser.client.cookies["oauth_binding"]
    landing = await browser.callback(
        f"/api/v1/oauth/google/callback?code={callback['code']}&state={callback['state']}"
    )
    exchange_code = query(landing)["code"]
    pair = (await browser.exchange(exchange_code)).json()
    # A replay, a failing GitHub sign-in and a refused exchange.
    replayed = await browser.callback(
        f"/api/v1/oauth/google/callback?code={callback['code']}&state={callback['state']}"
    )
    assert query(replayed) == {"error": "invalid_state"}
    oauth.provider.fail[GITHUB_USER] = 500
    failed = await browser.authorize("github")
    assert query(await browser.callback(failed)) == {"error": "provider_error"}
    assert (await browser.exchange(exchange_code)).status_code == 400

    secrets = [
        callback["code"],
        callback["state"],
        binding,
        exchange_code,
        pair["access_token"],
        pair["refresh_token"],
        query(failed)["code"],
        query(failed)["state"],
        GOOGLE_CLIENT_SECRET,
        GITHUB_CLIENT_SECRET,
        *oauth.provider.access_tokens,
        *(request["code_verifier"] for request in oauth.provider.token_requests),
    ]
    captured = capfd.readouterr()
    logs = "\n".join(app_lines(captured.out + captured.err))
    # The app's own lines were captured: its warnings and its calls to the provider.
    assert "oauth_failed" in logs
    # Outbound request lines (httpx, httpcore) are not logged at all, even at DEBUG.
    assert "http://google.test/token" not in logs
    audit = json.dumps([row.details for row in await oauth.audit()])
    assert "provider_error" in audit
    for secret in secrets:
        assert secret not in logs
        assert secret not in audit
