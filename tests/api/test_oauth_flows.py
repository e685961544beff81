"""Google and GitHub sign-in end to end, against the local provider."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import HarnessFactory
from tests.support import flows, oauth_flow
from tests.support.flows import bearer
from tests.support.oauth_flow import FRONTEND, OAUTH, OAuthSetup, query
from tests.support.oauth_provider import GITHUB_CLIENT_ID, GOOGLE_CLIENT_ID, s256


@pytest.fixture
async def oauth(make_harness: HarnessFactory) -> OAuthSetup:
    return await oauth_flow.start(make_harness)


async def profile(oauth: OAuthSetup, tokens: dict[str, Any]) -> dict[str, Any]:
    response = await oauth.harness.client.get(
        "/api/v1/users/profile", headers=bearer(tokens["access_token"])
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_google_sign_in_creates_a_verified_account_without_password(
    oauth: OAuthSetup,
) -> None:
    tokens = await oauth.browser.tokens("google")

    me = await profile(oauth, tokens)
    assert me["email"] == "ada@example.com"
    assert me["is_verified"] is True
    assert me["full_name"] == "Ada Lovelace"
    assert me["oauth_providers"] == ["google"]
    # No password was set, so none works, and change-password points to reset.
    login = await flows.login(oauth.harness.client, "ada@example.com")
    assert login.status_code == 401
    change = await oauth.harness.client.post(
        "/api/v1/users/change-password",
        json={"current_password": flows.PASSWORD, "new_password": "another long passphrase"},
        headers=bearer(tokens["access_token"]),
    )
    assert change.json()["code"] == "no_password"
    events = [row.event for row in await oauth.audit()]
    assert events.count("register") == 1
    assert events.count("oauth_linked") == 1
    assert events.count("oauth_login") == 1
    assert events.count("login_success") == 1


async def test_google_authorization_request_uses_pkce_s256_nonce_and_one_callback(
    oauth: OAuthSetup,
) -> None:
    await oauth.browser.tokens("google")

    [authorize] = oauth.provider.authorize_requests
    assert authorize["client_id"] == GOOGLE_CLIENT_ID
    assert authorize["redirect_uri"] == "http://testserver/api/v1/oauth/google/callback"
    assert authorize["response_type"] == "code"
    assert authorize["scope"] == "openid email profile"
    assert authorize["code_challenge_method"] == "S256"
    assert len(authorize["nonce"]) >= 32
    assert len(authorize["state"]) >= 43
    [token] = oauth.provider.token_requests
    assert 43 <= len(token["code_verifier"]) <= 128
    assert s256(token["code_verifier"]) == authorize["code_challenge"]
    assert token["redirect_uri"] == authorize["redirect_uri"]


async def test_github_sign_in_uses_the_verified_primary_email(oauth: OAuthSetup) -> None:
    oauth.provider.as_github(
        77,
        "octo@example.com",
        others=[{"email": "second@example.com", "primary": False, "verified": True}],
    )

    me = await profile(oauth, await oauth.browser.tokens("github"))

    assert me["email"] == "octo@example.com"
    assert me["is_verified"] is True
    assert me["oauth_providers"] == ["github"]
    [authorize] = oauth.provider.authorize_requests
    assert authorize["client_id"] == GITHUB_CLIENT_ID
    assert authorize["redirect_uri"] == "http://testserver/api/v1/oauth/github/callback"
    assert authorize["scope"] == "read:user user:email"
    assert authorize["code_challenge_method"] == "S256"
    assert "nonce" not in authorize
    [token] = oauth.provider.token_requests
    assert s256(token["code_verifier"]) == authorize["code_challenge"]


async def test_github_name_falls_back_to_the_login(oauth: OAuthSetup) -> None:
    oauth.provider.as_github(78, "nameless@example.com", name=None)

    me = await profile(oauth, await oauth.browser.tokens("github"))

    assert me["full_name"] == "user78"


async def test_signing_in_again_finds_the_same_account(oauth: OAuthSetup) -> None:
    first = await profile(oauth, await oauth.browser.tokens("google"))
    # The provider address changed; the identity (provider, sub) did not.
    oauth.provider.as_google("google-sub-1", "ada.renamed@example.com")

    second_tokens = await oauth.browser.tokens("google")
    second = await profile(oauth, second_tokens)

    assert second["id"] == first["id"]
    assert second["email"] == "ada@example.com"
    sessions = await oauth.harness.client.get(
        "/api/v1/users/sessions", headers=bearer(second_tokens["access_token"])
    )
    assert len(sessions.json()) == 2
    logins = await oauth.audit("oauth_login")
    assert [row.details["via"] for row in logins] == ["new_user", "existing"]
    assert len(await oauth.audit("register")) == 1


async def test_a_stolen_code_is_useless_in_another_flow(oauth: OAuthSetup) -> None:
    """PKCE: a code injected into the attacker's own flow fails the verifier check."""
    victim_code = query(await oauth.browser.authorize("google"))["code"]
    attacker = oauth.other_browser()
    attacker_callback = query(await attacker.authorize("google"))

    landing = await attacker.callback(
        f"{OAUTH}/google/callback?code={victim_code}&state={attacker_callback['state']}"
    )

    assert query(landing) == {"error": "provider_error"}
    assert oauth.provider.token_failures == ["invalid_code_verifier"]


@pytest.mark.parametrize(
    "claims, reason",
    [
        ({"nonce": "a-nonce-from-another-flow"}, "id_token_nonce"),
        ({"nonce": None}, "id_token_nonce"),
        ({"aud": "someone-elses-client"}, "id_token_audience"),
        ({"azp": "someone-elses-client"}, "id_token_audience"),
        ({"iss": "https://accounts.evil.test"}, "id_token_issuer"),
        ({"exp": int(time.time()) - 3600}, "id_token_expiry"),
        ({"sub": "another-subject"}, "subject_mismatch"),
    ],
)
async def test_google_id_token_must_belong_to_this_client_and_flow(
    oauth: OAuthSetup, claims: dict[str, Any], reason: str
) -> None:
    oauth.provider.id_token_claims = claims

    landing = await oauth.browser.sign_in("google")

    assert query(landing) == {"error": "provider_error"}
    [failure] = await oauth.audit("oauth_failed")
    assert failure.details["reason"] == reason
    assert await oauth.audit("oauth_login") == []


async def test_providers_lists_the_configured_ones(oauth: OAuthSetup) -> None:
    response = await oauth.harness.client.get(f"{OAUTH}/providers")

    assert response.status_code == 200
    assert response.json() == [
        {"name": "google", "authorize_url": "http://testserver/api/v1/oauth/google/initiate"},
        {"name": "github", "authorize_url": "http://testserver/api/v1/oauth/github/initiate"},
    ]


@pytest.mark.parametrize(
    "missing, hidden, shown",
    [
        ({"GITHUB_CLIENT_SECRET": None}, "github", "google"),
        ({"GITHUB_CLIENT_ID": None}, "github", "google"),
        ({"GOOGLE_CLIENT_SECRET": None}, "google", "github"),
        ({"GOOGLE_CLIENT_ID": ""}, "google", "github"),
    ],
)
async def test_an_unconfigured_provider_is_hidden_and_answers_404(
    make_harness: HarnessFactory, missing: dict[str, Any], hidden: str, shown: str
) -> None:
    oauth = await oauth_flow.start(make_harness, **missing)
    client = oauth.harness.client

    listed = await client.get(f"{OAUTH}/providers")
    initiate = await client.get(f"{OAUTH}/{hidden}/initiate")
    callback = await client.get(f"{OAUTH}/{hidden}/callback", params={"code": "c", "state": "s"})

    assert [p["name"] for p in listed.json()] == [shown]
    assert (initiate.status_code, initiate.json()["code"]) == (404, "not_found")
    assert (callback.status_code, callback.json()["code"]) == (404, "not_found")


async def test_no_provider_configured_lists_none(make_harness: HarnessFactory) -> None:
    harness = await make_harness()

    response = await harness.client.get(f"{OAUTH}/providers")

    assert response.status_code == 200
    assert response.json() == []


async def test_frontend_lands_on_the_base_url_by_default(oauth: OAuthSetup) -> None:
    landing = await oauth.browser.sign_in("github")

    assert landing.startswith(f"{FRONTEND}/?code=")
