"""State: one-shot, ten minutes, bound to the browser and the provider that started it."""

from __future__ import annotations

import json
import secrets
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest

from app.core.security import hash_token
from tests.conftest import HarnessFactory
from tests.support import oauth_flow
from tests.support.oauth_flow import OAUTH, OAuthSetup, query


@pytest.fixture
async def oauth(make_harness: HarnessFactory) -> OAuthSetup:
    return await oauth_flow.start(make_harness)


def callback_url(provider: str, **params: str) -> str:
    return f"{OAUTH}/{provider}/callback?{urlencode(params)}"


async def assert_refused(
    oauth: OAuthSetup, landing: str, error: str = "invalid_state", reason: str | None = None
) -> None:
    assert query(landing) == {"error": error}
    assert await oauth.audit("oauth_login") == []
    failures = await oauth.audit("oauth_failed")
    assert failures and failures[-1].details["error"] == error
    if reason is not None:
        assert failures[-1].details["reason"] == reason


async def test_callback_without_state_is_refused_before_the_code_is_used(
    oauth: OAuthSetup,
) -> None:
    code = query(await oauth.browser.authorize("google"))["code"]

    landing = await oauth.browser.callback(callback_url("google", code=code))

    await assert_refused(oauth, landing, reason="malformed_state")
    assert oauth.provider.token_requests == []


@pytest.mark.parametrize(
    "state",
    [
        secrets.token_urlsafe(32),  # well formed, never issued
        "x" * 2000,
        "<script>alert(1)</script>",
        "ünïcödé-state",
        "",
    ],
)
async def test_unknown_or_malformed_state_is_refused(oauth: OAuthSetup, state: str) -> None:
    code = query(await oauth.browser.authorize("google"))["code"]

    landing = await oauth.browser.callback(callback_url("google", code=code, state=state))

    await assert_refused(oauth, landing)
    assert oauth.provider.token_requests == []


async def test_a_replayed_callback_is_refused(oauth: OAuthSetup) -> None:
    url = await oauth.browser.authorize("github")
    assert "code" in query(await oauth.browser.callback(url))

    landing = await oauth.browser.callback(url)

    assert query(landing) == {"error": "invalid_state"}
    assert len(await oauth.audit("oauth_login")) == 1


async def test_a_callback_in_another_browser_is_refused(oauth: OAuthSetup) -> None:
    """Login CSRF: the attacker's callback URL opened in the victim's browser."""
    attacker_url = await oauth.browser.authorize("google")
    victim = oauth.other_browser()
    await victim.initiate("google")  # the victim has a binding cookie of their own

    landing = await victim.callback(attacker_url)

    await assert_refused(oauth, landing, reason="cookie_mismatch")
    assert oauth.provider.token_requests == []
    # The state is spent either way: it cannot be retried from the first browser.
    again = await oauth.browser.callback(attacker_url)
    assert query(again) == {"error": "invalid_state"}


async def test_a_callback_without_the_binding_cookie_is_refused(oauth: OAuthSetup) -> None:
    url = await oauth.browser.authorize("google")
    oauth.browser.client.cookies.clear()

    landing = await oauth.browser.callback(url)

    await assert_refused(oauth, landing, reason="missing_cookie")


async def test_a_callback_with_a_forged_binding_cookie_is_refused(oauth: OAuthSetup) -> None:
    url = await oauth.browser.authorize("google")
    oauth.browser.client.cookies.clear()
    oauth.browser.client.cookies.set(
        "oauth_binding", secrets.token_urlsafe(32), domain="testserver.local", path=OAUTH
    )

    landing = await oauth.browser.callback(url)

    await assert_refused(oauth, landing, reason="cookie_mismatch")


async def test_a_state_issued_for_one_provider_is_refused_by_another(oauth: OAuthSetup) -> None:
    """Mix-up defence: each provider has its own callback and its own states."""
    google = query(await oauth.browser.authorize("google"))

    landing = await oauth.browser.callback(callback_url("github", **google))

    await assert_refused(oauth, landing, reason="provider_mismatch")
    assert oauth.provider.token_requests == []


async def test_state_expires_after_ten_minutes(oauth: OAuthSetup) -> None:
    url = await oauth.browser.authorize("google")
    oauth.harness.clock.advance(minutes=10, seconds=1)

    landing = await oauth.browser.callback(url)

    await assert_refused(oauth, landing, reason="expired")
    assert oauth.provider.token_requests == []


async def test_state_is_still_good_just_before_ten_minutes(oauth: OAuthSetup) -> None:
    url = await oauth.browser.authorize("google")
    oauth.harness.clock.advance(minutes=9, seconds=59)

    landing = await oauth.browser.callback(url)

    assert "code" in query(landing)


async def test_provider_refusal_redirects_with_provider_error(oauth: OAuthSetup) -> None:
    oauth.provider.deny_with = "access_denied"

    landing = await oauth.browser.sign_in("github")

    await assert_refused(oauth, landing, "provider_error")
    [failure] = await oauth.audit("oauth_failed")
    assert failure.details["reason"] == "authorization_refused"
    assert failure.details["provider_error"] == "access_denied"


async def test_binding_cookie_attributes(oauth: OAuthSetup) -> None:
    response = await oauth.browser.initiate("google")

    [header] = response.headers.get_list("set-cookie")
    cookie = SimpleCookie()
    cookie.load(header)
    morsel = cookie["oauth_binding"]
    assert len(morsel.value) >= 43
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == OAUTH
    assert 0 < int(morsel["max-age"]) <= 600
    assert not morsel["secure"]  # BACKEND_BASE_URL is http in this test
    assert not morsel["domain"]


async def test_binding_cookie_is_secure_on_an_https_backend(make_harness: HarnessFactory) -> None:
    oauth = await oauth_flow.start(make_harness, BACKEND_BASE_URL="https://api.example.test")

    response = await oauth.browser.initiate("github")

    cookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])
    assert cookie["oauth_binding"]["secure"] is True
    redirect_uri = query(response.headers["location"])["redirect_uri"]
    assert redirect_uri == "https://api.example.test/api/v1/oauth/github/callback"


async def test_each_initiate_has_a_fresh_state(oauth: OAuthSetup) -> None:
    first = query((await oauth.browser.initiate("google")).headers["location"])
    second = query((await oauth.browser.initiate("google")).headers["location"])

    assert first["state"] != second["state"]
    assert first["code_challenge"] != second["code_challenge"]
    assert first["nonce"] != second["nonce"]


async def test_two_tabs_can_sign_in_at_once(oauth: OAuthSetup) -> None:
    first = await oauth.browser.authorize("google")
    second = await oauth.browser.authorize("github")

    for url in (first, second):
        landing = query(await oauth.browser.callback(url))
        assert (await oauth.browser.exchange(landing["code"])).status_code == 200


async def test_the_store_holds_no_usable_secret(oauth: OAuthSetup) -> None:
    response = await oauth.browser.initiate("google")
    params = query(response.headers["location"])
    binding = response.cookies["oauth_binding"]
    store = oauth.harness.ctx.store

    assert await store.get(f"oauth:state:{params['state']}") is None
    record = await store.get(f"oauth:state:{hash_token(params['state'])}")
    assert record is not None
    for secret in (params["state"], binding, params["nonce"]):
        assert secret not in record
    assert json.loads(record)["redirect_to"] == "http://frontend.test/"
