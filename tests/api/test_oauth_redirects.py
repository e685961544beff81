"""redirect_to: only the frontend's origin, never an open redirect; unknown providers."""

from __future__ import annotations

import pytest

from tests.conftest import HarnessFactory
from tests.support import oauth_flow
from tests.support.oauth_flow import OAUTH, OAuthSetup, query


@pytest.fixture
async def oauth(make_harness: HarnessFactory) -> OAuthSetup:
    return await oauth_flow.start(make_harness)


@pytest.mark.parametrize(
    "redirect_to, landing",
    [
        ("/dashboard?tab=2", "http://frontend.test/dashboard?tab=2&code="),
        ("/", "http://frontend.test/?code="),
        ("http://frontend.test/welcome#top", "http://frontend.test/welcome?code="),
        ("http://frontend.test:80/x", "http://frontend.test:80/x?code="),
        ("http://frontend.test", "http://frontend.test/?code="),
    ],
)
async def test_frontend_targets_are_kept(oauth: OAuthSetup, redirect_to: str, landing: str) -> None:
    location = await oauth.browser.callback(
        await oauth.browser.authorize("google", redirect_to=redirect_to)
    )

    assert location.startswith(landing)
    if "#" in redirect_to:
        assert location.endswith("#top")


async def test_errors_go_to_the_requested_frontend_page(oauth: OAuthSetup) -> None:
    oauth.provider.deny_with = "access_denied"

    location = await oauth.browser.sign_in("github", redirect_to="/login?next=%2Fhome")

    assert location == "http://frontend.test/login?next=%2Fhome&error=provider_error"


OPEN_REDIRECTS = [
    "//evil.test/x",
    "///evil.test",
    "https://evil.test/",
    "http://evil.test/",
    "http://frontend.test.evil.test/",
    "https://frontend.test/",  # another scheme
    "http://frontend.test:8080/",  # another port
    "http://frontend.test@evil.test/",  # userinfo
    "http://user:pw@frontend.test/",
    "http://evil.test\\@frontend.test/",
    "/\\evil.test",
    "\\\\evil.test",
    "/\\/evil.test",
    "/ok\r\nSet-Cookie: injected=1",
    "/ok\x00",
    "/ok\tx",
    "\x01http://frontend.test/",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.test",
    "http:evil.test",
    "http://frontend.test:99999/",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("redirect_to", OPEN_REDIRECTS)
async def test_open_redirects_are_refused_at_initiate(oauth: OAuthSetup, redirect_to: str) -> None:
    response = await oauth.browser.initiate("google", redirect_to=redirect_to)

    assert response.status_code == 400
    assert response.json() == {
        "detail": "redirect_to must be a URL on the frontend",
        "code": "invalid_redirect",
    }
    assert "set-cookie" not in response.headers
    assert await oauth.harness.ctx.store.count("oauth:state:") == 0


@pytest.mark.parametrize("provider", ["facebook", "Google", "%00", "google%2F..", "x" * 300])
async def test_unknown_providers_answer_404(oauth: OAuthSetup, provider: str) -> None:
    client = oauth.harness.client

    initiate = await client.get(f"{OAUTH}/{provider}/initiate", params={"redirect_to": "//evil"})
    callback = await client.get(f"{OAUTH}/{provider}/callback", params={"code": "c", "state": "s"})

    for response in (initiate, callback):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert oauth.provider.calls == []
    assert await oauth.audit() == []


async def test_callback_errors_without_a_state_go_to_the_frontend_base(oauth: OAuthSetup) -> None:
    response = await oauth.harness.client.get(f"{OAUTH}/google/callback")

    assert response.status_code == 302
    assert response.headers["location"] == "http://frontend.test/?error=invalid_state"
    assert query(response.headers["location"]) == {"error": "invalid_state"}
