"""Google and GitHub sign-in, end to end against a local provider over HTTP."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlmodel import select

from app.cache.memory import MemoryStore
from app.models import AuditLog, OAuthAccount, User
from tests.conftest import Harness, HarnessFactory
from tests.support.flows import API, PASSWORD, bearer, login, new_email, register
from tests.support.oauth_flow import callback, initiate, query, sign_in, through_provider
from tests.support.oauth_provider import SETTINGS, FakeProvider, Identity, TimeoutOn

FRONTEND = "http://frontend.test"


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
async def oauth(make_harness: HarnessFactory, provider: FakeProvider) -> Harness:
    return await make_harness(**SETTINGS, app_kwargs={"http_transport": provider.transport()})


async def exchange(harness: Harness, code: str) -> httpx.Response:
    return await harness.client.post(f"{API}/oauth/exchange", json={"code": code})


async def events(harness: Harness, event: str) -> list[AuditLog]:
    async with harness.ctx.sessionmaker() as db:
        return list((await db.exec(select(AuditLog).where(AuditLog.event == event))).all())


async def user_by_email(harness: Harness, email: str) -> User | None:
    async with harness.ctx.sessionmaker() as db:
        return (await db.exec(select(User).where(User.email == email))).first()


async def test_providers_lists_only_configured_ones(
    make_harness: HarnessFactory, oauth: Harness
) -> None:
    listed = (await oauth.client.get(f"{API}/oauth/providers")).json()
    assert listed == [
        {"name": "google", "authorize_url": "http://testserver/api/v1/oauth/google/initiate"},
        {"name": "github", "authorize_url": "http://testserver/api/v1/oauth/github/initiate"},
    ]
    bare = await make_harness(GITHUB_CLIENT_ID="only-an-id")
    assert (await bare.client.get(f"{API}/oauth/providers")).json() == []
    for path in ("github/initiate", "github/callback", "google/initiate"):
        response = await bare.client.get(f"{API}/oauth/{path}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.parametrize("path", ["facebook/initiate", "facebook/callback?code=x&state=y"])
async def test_unknown_provider_is_404(oauth: Harness, path: str) -> None:
    response = await oauth.client.get(f"{API}/oauth/{path}")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


async def test_initiate_redirects_with_state_pkce_and_a_bound_cookie(
    oauth: Harness,
) -> None:
    response = await initiate(oauth, "google")
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("http://provider.test/google/authorize?")
    params = query(location)
    assert params["client_id"] == "google-client"
    assert params["redirect_uri"] == "http://testserver/api/v1/oauth/google/callback"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 43 and len(params["nonce"]) >= 43
    assert params["scope"] == "openid email profile"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("oauth_binding=")
    for attribute in ("HttpOnly", "Max-Age=600", "Path=/api/v1/oauth", "SameSite=lax"):
        assert attribute in cookie
    assert "Secure" not in cookie  # the backend URL is plain http in tests
    github = query((await initiate(oauth, "github")).headers["location"])
    assert github["code_challenge_method"] == "S256" and github["scope"] == "read:user user:email"


async def test_cookie_is_secure_behind_https(
    make_harness: HarnessFactory, provider: FakeProvider
) -> None:
    harness = await make_harness(
        **SETTINGS,
        BACKEND_BASE_URL="https://api.example.com",
        app_kwargs={"http_transport": provider.transport()},
    )
    response = await initiate(harness, "github")
    assert "Secure" in response.headers["set-cookie"]


@pytest.mark.parametrize("name", ["google", "github"])
async def test_full_flow_creates_a_verified_passwordless_user(
    oauth: Harness, provider: FakeProvider, name: str
) -> None:
    result = await sign_in(oauth, provider, name)
    assert set(result) == {"code"}
    pair = await exchange(oauth, result["code"])
    assert pair.status_code == 200, pair.text
    profile = (
        await oauth.client.get(f"{API}/users/profile", headers=bearer(pair.json()["access_token"]))
    ).json()
    email = provider.identity[name].email
    assert profile["email"] == email and profile["is_verified"] is True
    assert profile["oauth_providers"] == [name]
    assert profile["full_name"] == "Pat Provider"
    user = await user_by_email(oauth, str(email))
    assert user is not None and user.hashed_password is None
    # The same identity signs in to the same account next time.
    again = await sign_in(oauth, provider, name)
    second = await exchange(oauth, again["code"])
    assert second.status_code == 200
    async with oauth.ctx.sessionmaker() as db:
        assert len((await db.exec(select(User))).all()) == 1
        assert len((await db.exec(select(OAuthAccount))).all()) == 1
    assert len(await events(oauth, "oauth_login")) == 2
    assert (await events(oauth, "register"))[0].details == {"via": name}


async def test_exchange_code_is_single_use_and_short_lived(
    oauth: Harness, provider: FakeProvider
) -> None:
    code = (await sign_in(oauth, provider, "google"))["code"]
    assert (await exchange(oauth, code)).status_code == 200
    replay = await exchange(oauth, code)
    assert replay.status_code == 400 and replay.json()["code"] == "invalid_token"
    late = (await sign_in(oauth, provider, "google"))["code"]
    oauth.clock.advance(seconds=61)
    assert (await exchange(oauth, late)).status_code == 400
    assert (await exchange(oauth, "not-a-code")).status_code == 400


async def test_callback_without_or_with_a_wrong_state(
    oauth: Harness, provider: FakeProvider
) -> None:
    started = await initiate(oauth, "google")
    back = await through_provider(provider, started.headers["location"])
    code = query(back)["code"]
    for url in (
        f"{API}/oauth/google/callback?code={code}",
        f"{API}/oauth/google/callback?code={code}&state=made-up",
    ):
        assert query(await callback(oauth, url)) == {"error": "invalid_state"}
    # The real state still works once, and only once.
    assert "code" in query(await callback(oauth, back))
    assert query(await callback(oauth, back)) == {"error": "invalid_state"}
    reasons = [row.details["reason"] for row in await events(oauth, "oauth_failed")]
    assert reasons == ["invalid_state"] * 3


async def test_state_is_bound_to_the_browser_that_started(
    oauth: Harness, provider: FakeProvider
) -> None:
    started = await initiate(oauth, "google")
    back = await through_provider(provider, started.headers["location"])
    other_browser = oauth.new_client()
    assert query(await callback(oauth, back, other_browser)) == {"error": "invalid_state"}
    # ...and the attempt is spent, even for the right browser.
    assert query(await callback(oauth, back)) == {"error": "invalid_state"}
    # A forged callback does not disturb a login the browser has under way.
    ongoing = await initiate(oauth, "google")
    returned = await through_provider(provider, ongoing.headers["location"])
    await callback(oauth, f"{API}/oauth/google/callback?code=x&state=forged")
    assert "code" in query(await callback(oauth, returned))

    victim = oauth.new_client()
    await initiate(oauth, "google", victim)  # the victim has a binding of their own
    attacker_start = await initiate(oauth, "google")
    forced = await through_provider(provider, attacker_start.headers["location"])
    assert query(await callback(oauth, forced, victim)) == {"error": "invalid_state"}


async def test_state_of_one_provider_fails_at_the_other(
    oauth: Harness, provider: FakeProvider
) -> None:
    started = await initiate(oauth, "google")
    back = await through_provider(provider, started.headers["location"])
    swapped = back.replace("/oauth/google/callback", "/oauth/github/callback")
    assert query(await callback(oauth, swapped)) == {"error": "invalid_state"}


async def test_state_expires_after_ten_minutes(
    make_harness: HarnessFactory, provider: FakeProvider
) -> None:
    now = [1000.0]
    harness = await make_harness(
        **SETTINGS,
        app_kwargs={
            "http_transport": provider.transport(),
            "store": MemoryStore(timer=lambda: now[0]),
        },
    )
    started = await initiate(harness, "github")
    back = await through_provider(provider, started.headers["location"])
    now[0] += 601
    assert query(await callback(harness, back)) == {"error": "invalid_state"}


async def test_pkce_verifier_is_checked_by_the_provider(
    oauth: Harness, provider: FakeProvider
) -> None:
    started = await initiate(oauth, "github")
    location = started.headers["location"]
    challenge = query(location)["code_challenge"]
    tampered = location.replace(challenge, "A" * 43)  # a code bound to another verifier
    back = await through_provider(provider, tampered)
    assert query(await callback(oauth, back)) == {"error": "provider_error"}
    assert provider.token_requests[-1]["code_verifier"]  # it was sent, and refused


@pytest.mark.parametrize(
    ("failing", "name"),
    [
        ("/google/token", "google"),
        ("/google/userinfo", "google"),
        ("/github/token", "github"),
        ("/github/api/user/emails", "github"),
    ],
)
async def test_provider_errors_redirect_with_provider_error(
    oauth: Harness, provider: FakeProvider, failing: str, name: str
) -> None:
    provider.fail[failing] = 500
    assert await sign_in(oauth, provider, name) == {"error": "provider_error"}
    assert (await events(oauth, "oauth_failed"))[0].details == {
        "provider": name,
        "reason": "provider_error",
    }


async def test_a_provider_that_times_out(
    make_harness: HarnessFactory, provider: FakeProvider
) -> None:
    harness = await make_harness(
        **SETTINGS,
        app_kwargs={"http_transport": TimeoutOn(provider.transport(), "/google/token")},
    )
    assert await sign_in(harness, provider, "google") == {"error": "provider_error"}


async def test_user_denied_at_the_provider(oauth: Harness) -> None:
    started = await initiate(oauth, "google")
    state = query(started.headers["location"])["state"]
    url = f"{API}/oauth/google/callback?error=access_denied&state={state}"
    assert query(await callback(oauth, url)) == {"error": "provider_error"}


async def test_wrong_nonce_is_refused(oauth: Harness, provider: FakeProvider) -> None:
    provider.wrong_nonce = True
    assert await sign_in(oauth, provider, "google") == {"error": "provider_error"}


async def test_links_a_verified_account_with_a_verified_email(
    oauth: Harness, provider: FakeProvider
) -> None:
    email = await oauth.user("pat.google@example.com")
    result = await sign_in(oauth, provider, "google")
    pair = (await exchange(oauth, result["code"])).json()
    profile = (
        await oauth.client.get(f"{API}/users/profile", headers=bearer(pair["access_token"]))
    ).json()
    assert profile["email"] == email and profile["oauth_providers"] == ["google"]
    assert (await login(oauth.client, email)).status_code == 200  # password still works
    [linked] = await events(oauth, "oauth_linked")
    assert linked.details == {"provider": "google", "takeover": False}


@pytest.mark.parametrize("name", ["google", "github"])
async def test_unverified_provider_email_never_links(
    oauth: Harness, provider: FakeProvider, name: str
) -> None:
    email = str(provider.identity[name].email)
    await oauth.user(email)
    provider.identity[name].email_verified = False
    assert await sign_in(oauth, provider, name) == {"error": "email_unverified"}
    async with oauth.ctx.sessionmaker() as db:
        assert (await db.exec(select(OAuthAccount))).all() == []
    # No account is created from an unverified address either.
    provider.identity[name] = Identity(sub="999", email=new_email(), email_verified=False)
    assert await sign_in(oauth, provider, name) == {"error": "email_unverified"}


async def test_github_uses_the_verified_primary_email_only(
    oauth: Harness, provider: FakeProvider
) -> None:
    victim = await oauth.user("victim@example.com")
    provider.identity["github"] = Identity(
        sub="31337",
        email="attacker@example.com",
        public_email=victim,  # a public profile email proves nothing
        extra_emails=[{"email": victim, "primary": False, "verified": False}],
    )
    result = await sign_in(oauth, provider, "github")
    pair = (await exchange(oauth, result["code"])).json()
    profile = (
        await oauth.client.get(f"{API}/users/profile", headers=bearer(pair["access_token"]))
    ).json()
    assert profile["email"] == "attacker@example.com"


async def test_an_unverified_local_account_is_taken_over(
    oauth: Harness, provider: FakeProvider
) -> None:
    # Someone pre-registered the address with a password they know.
    await register(oauth.client, "pat.google@example.com", password="attacker passphrase")
    await oauth.settle()
    stale_token = oauth.mailbox.token("pat.google@example.com", "/verify-email")
    result = await sign_in(oauth, provider, "google")
    pair = await exchange(oauth, result["code"])
    assert pair.status_code == 200
    user = await user_by_email(oauth, "pat.google@example.com")
    assert user is not None and user.is_verified and user.hashed_password is None
    old_password = await login(oauth.client, "pat.google@example.com", "attacker passphrase")
    assert old_password.status_code == 401
    verify = await oauth.client.post(f"{API}/auth/verify-email", json={"token": stale_token})
    assert verify.status_code == 400  # the pre-registration's link is void
    [linked] = await events(oauth, "oauth_linked")
    assert linked.details == {"provider": "google", "takeover": True}


async def test_a_disabled_account_cannot_sign_in(oauth: Harness, provider: FakeProvider) -> None:
    code = (await sign_in(oauth, provider, "google"))["code"]
    assert (await exchange(oauth, code)).status_code == 200
    async with oauth.ctx.sessionmaker() as db:
        user = (await db.exec(select(User))).one()
        user.is_active = False
        db.add(user)
        await db.commit()
    assert await sign_in(oauth, provider, "google") == {"error": "account_disabled"}


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/",
        "http://frontend.test@evil.example/",
        "https://user:pw@frontend.test/",
        "/\\evil.example",
        "http://frontend.test/\r\nx",
        "javascript:alert(1)",
        "http://frontend.test:8080/",
    ],
)
async def test_open_redirects_are_refused_at_initiate(oauth: Harness, target: str) -> None:
    response = await initiate(oauth, "google", redirect_to=target)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_redirect"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/welcome?tab=2", f"{FRONTEND}/welcome"),
        (f"{FRONTEND}/after/login", f"{FRONTEND}/after/login"),
    ],
)
async def test_redirect_to_is_honoured_on_success_and_failure(
    oauth: Harness, provider: FakeProvider, target: str, expected: str
) -> None:
    started = await initiate(oauth, "github", redirect_to=target)
    back = await through_provider(provider, started.headers["location"])
    final = await callback(oauth, back)
    assert final.startswith(expected) and "code=" in final
    provider.fail["/github/token"] = 500
    started = await initiate(oauth, "github", redirect_to=target)
    back = await through_provider(provider, started.headers["location"])
    failed = await callback(oauth, back)
    assert failed.startswith(expected) and "error=provider_error" in failed


async def test_callback_clears_the_binding_cookie(oauth: Harness, provider: FakeProvider) -> None:
    started = await initiate(oauth, "google")
    back = await through_provider(provider, started.headers["location"])
    parts = urlsplit(back)
    response = await oauth.client.get(f"{parts.path}?{parts.query}")
    assert 'oauth_binding=""' in response.headers["set-cookie"]
    assert "Max-Age=0" in response.headers["set-cookie"]


async def test_no_token_or_code_in_audit_rows(oauth: Harness, provider: FakeProvider) -> None:
    result = await sign_in(oauth, provider, "github")
    tokens: Any = (await exchange(oauth, result["code"])).json()
    async with oauth.ctx.sessionmaker() as db:
        rows = (await db.exec(select(AuditLog))).all()
    text = " ".join(str(row.details) for row in rows)
    for secret in (result["code"], tokens["access_token"], tokens["refresh_token"], PASSWORD):
        assert secret not in text
