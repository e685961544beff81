"""A provider that fails, stalls or talks nonsense ends in `error=provider_error`, never a 500."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from app.models import User
from tests.conftest import Harness, HarnessFactory
from tests.support import oauth_flow
from tests.support.oauth_flow import OAuthSetup, query
from tests.support.oauth_provider import (
    GITHUB_EMAILS,
    GITHUB_TOKEN,
    GITHUB_USER,
    GOOGLE_TOKEN,
    GOOGLE_USERINFO,
)

ROUTES = [
    ("google", GOOGLE_TOKEN, "token"),
    ("google", GOOGLE_USERINFO, "userinfo"),
    ("github", GITHUB_TOKEN, "token"),
    ("github", GITHUB_USER, "user"),
    ("github", GITHUB_EMAILS, "emails"),
]


@pytest.fixture
async def oauth(make_harness: HarnessFactory) -> OAuthSetup:
    return await oauth_flow.start(make_harness)


async def assert_provider_error(oauth: OAuthSetup, landing: str, reason: str, stage: str) -> None:
    assert query(landing) == {"error": "provider_error"}
    [failure] = await oauth.audit("oauth_failed")
    assert failure.details["error"] == "provider_error"
    assert failure.details["reason"] == reason
    assert failure.details["stage"] == stage
    assert await oauth.audit("oauth_login") == []
    async with oauth.harness.ctx.sessionmaker() as db:
        assert (await db.exec(select(func.count()).select_from(User))).one() == 0


@pytest.mark.parametrize("provider, route, stage", ROUTES)
@pytest.mark.parametrize("status", [500, 503, 401, 404])
async def test_provider_http_errors(
    oauth: OAuthSetup, provider: str, route: str, stage: str, status: int
) -> None:
    oauth.provider.fail[route] = status

    landing = await oauth.browser.sign_in(provider)

    await assert_provider_error(oauth, landing, "http_status", stage)
    [failure] = await oauth.audit("oauth_failed")
    assert failure.details["status"] == str(status)


@pytest.mark.parametrize("provider, route, stage", ROUTES)
async def test_provider_timeouts(oauth: OAuthSetup, provider: str, route: str, stage: str) -> None:
    oauth.provider.timeout.add(route)

    landing = await oauth.browser.sign_in(provider)

    await assert_provider_error(oauth, landing, "timeout", stage)


@pytest.mark.parametrize("provider, route, stage", ROUTES)
async def test_provider_answers_that_are_not_json(
    oauth: OAuthSetup, provider: str, route: str, stage: str
) -> None:
    oauth.provider.garbage.add(route)

    landing = await oauth.browser.sign_in(provider)

    await assert_provider_error(oauth, landing, "malformed_body", stage)


@pytest.mark.parametrize("provider, route, stage", ROUTES)
async def test_provider_redirects_are_not_followed(
    oauth: OAuthSetup, provider: str, route: str, stage: str
) -> None:
    oauth.provider.fail[route] = 302

    landing = await oauth.browser.sign_in(provider)

    await assert_provider_error(oauth, landing, "http_status", stage)
    assert "http://evil.test/" not in oauth.provider.calls


async def test_github_reports_a_bad_code_with_200(oauth: OAuthSetup) -> None:
    url = await oauth.browser.authorize("github")
    oauth.provider.grants.clear()  # the code expired at GitHub

    landing = await oauth.browser.callback(url)

    await assert_provider_error(oauth, landing, "token_refused", "token")


async def test_google_refuses_a_spent_code(oauth: OAuthSetup) -> None:
    url = await oauth.browser.authorize("google")
    oauth.provider.grants.clear()

    landing = await oauth.browser.callback(url)

    await assert_provider_error(oauth, landing, "http_status", "token")


@pytest.mark.parametrize(
    "profile, reason",
    [
        ({"id": "not-a-number", "login": "x"}, "missing_field"),
        ({"id": True, "login": "x"}, "missing_field"),
        ({"login": "x"}, "missing_field"),
    ],
)
async def test_malformed_github_profiles(
    oauth: OAuthSetup, profile: dict[str, object], reason: str
) -> None:
    oauth.provider.github_user = profile

    landing = await oauth.browser.sign_in("github")

    await assert_provider_error(oauth, landing, reason, "user")


async def test_malformed_github_email_list(oauth: OAuthSetup) -> None:
    oauth.provider.github_emails = {"email": "ada@example.com"}

    landing = await oauth.browser.sign_in("github")

    await assert_provider_error(oauth, landing, "malformed_body", "emails")


async def test_a_malformed_provider_email(oauth: OAuthSetup) -> None:
    oauth.provider.as_google("google-sub-2", "not an address")

    landing = await oauth.browser.sign_in("google")

    assert query(landing) == {"error": "provider_error"}
    [failure] = await oauth.audit("oauth_failed")
    assert failure.details["reason"] == "malformed_email"


async def test_a_missing_code_is_a_provider_error(oauth: OAuthSetup) -> None:
    state = query(await oauth.browser.authorize("google"))["state"]

    landing = await oauth.browser.callback(f"/api/v1/oauth/google/callback?state={state}")

    assert query(landing) == {"error": "provider_error"}
    assert oauth.provider.token_requests == []


async def test_a_failed_callback_spends_the_state(oauth: OAuthSetup) -> None:
    oauth.provider.fail[GOOGLE_TOKEN] = 500
    url = await oauth.browser.authorize("google")
    assert query(await oauth.browser.callback(url)) == {"error": "provider_error"}
    del oauth.provider.fail[GOOGLE_TOKEN]

    assert query(await oauth.browser.callback(url)) == {"error": "invalid_state"}


async def test_outbound_calls_time_out_within_ten_seconds(harness: Harness) -> None:
    http = harness.ctx.http
    timeout = http.timeout

    for value in (timeout.connect, timeout.read, timeout.write, timeout.pool):
        assert value is not None and 0 < value <= 10
    assert http.follow_redirects is False
