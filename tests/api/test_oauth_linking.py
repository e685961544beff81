"""Account linking (SPEC §5): identity first; email only when both sides verified it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import func, select

from app.models import User
from app.repositories.users import UserRepository
from app.services.context import ClientInfo
from app.services.sessions import SessionService
from tests.conftest import HarnessFactory
from tests.support import flows, oauth_flow
from tests.support.flows import bearer
from tests.support.oauth_flow import OAuthSetup, query

API = "/api/v1"


@pytest.fixture
async def oauth(make_harness: HarnessFactory) -> OAuthSetup:
    return await oauth_flow.start(make_harness)


async def profile(oauth: OAuthSetup, access_token: str) -> dict[str, Any]:
    response = await oauth.harness.client.get(f"{API}/users/profile", headers=bearer(access_token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def user_count(oauth: OAuthSetup) -> int:
    async with oauth.harness.ctx.sessionmaker() as db:
        return (await db.exec(select(func.count()).select_from(User))).one()


async def stored_user(oauth: OAuthSetup, email: str) -> User:
    async with oauth.harness.ctx.sessionmaker() as db:
        user = await UserRepository(db).get_by_email(email)
    assert user is not None
    return user


def as_provider(oauth: OAuthSetup, provider: str, email: str | None, verified: bool) -> None:
    if provider == "google":
        oauth.provider.as_google("google-sub-9", email, verified=verified)
    else:
        oauth.provider.as_github(9009, email, verified=verified)


@pytest.mark.parametrize("provider", ["google", "github"])
async def test_a_verified_account_is_linked_by_a_verified_email(
    oauth: OAuthSetup, provider: str
) -> None:
    email = await oauth.harness.user("ada@example.com")
    password_tokens = await oauth.harness.login(email)
    as_provider(oauth, provider, "Ada@Example.COM", verified=True)  # any case

    oauth_tokens = await oauth.browser.tokens(provider)

    me = await profile(oauth, oauth_tokens["access_token"])
    assert me["id"] == (await profile(oauth, password_tokens["access_token"]))["id"]
    assert me["oauth_providers"] == [provider]
    assert (await flows.login(oauth.harness.client, email)).status_code == 200
    [linked] = await oauth.audit("oauth_linked")
    assert linked.details == {"provider": provider, "via": "email"}
    assert str(linked.user_id) == me["id"]


@pytest.mark.parametrize("provider", ["google", "github"])
async def test_an_unverified_provider_email_is_never_linked(
    oauth: OAuthSetup, provider: str
) -> None:
    email = await oauth.harness.user("ada@example.com")
    as_provider(oauth, provider, email, verified=False)
    users_before = await user_count(oauth)

    landing = await oauth.browser.sign_in(provider)

    assert query(landing) == {"error": "email_unverified"}
    tokens = await oauth.harness.login(email)
    assert (await profile(oauth, tokens["access_token"]))["oauth_providers"] == []
    assert await user_count(oauth) == users_before
    [failure] = await oauth.audit("oauth_failed")
    assert failure.details["error"] == "email_unverified"
    assert failure.user_id == (await stored_user(oauth, email)).id
    assert await oauth.audit("oauth_linked") == []


async def test_a_verified_secondary_github_email_does_not_link(oauth: OAuthSetup) -> None:
    email = await oauth.harness.user("ada@example.com")
    oauth.provider.as_github(
        9010,
        "primary@example.com",
        verified=False,
        others=[{"email": email, "primary": False, "verified": True}],
    )

    landing = await oauth.browser.sign_in("github")

    assert query(landing) == {"error": "email_unverified"}
    assert await oauth.audit("oauth_linked") == []


@pytest.mark.parametrize("provider", ["google", "github"])
async def test_an_unverified_or_missing_email_creates_no_account(
    oauth: OAuthSetup, provider: str
) -> None:
    for email in ("nobody@example.com", None):
        as_provider(oauth, provider, email, verified=False)

        landing = await oauth.browser.sign_in(provider)

        assert query(landing) == {"error": "email_unverified"}
    assert await user_count(oauth) == 0


async def test_an_unverified_local_account_is_taken_over(oauth: OAuthSetup) -> None:
    """Pre-registration hijack: someone registered the address first, never verified it."""
    client = oauth.harness.client
    email = "ada@example.com"
    registered = await flows.register(client, email, full_name="Mallory")
    assert registered.status_code == 201
    reset_requested = await client.post(f"{API}/auth/password-reset", json={"email": email})
    assert reset_requested.status_code == 202
    await oauth.harness.settle()
    verify_token = oauth.harness.mailbox.token(email, "/verify-email")
    reset_token = oauth.harness.mailbox.token(email, "/reset-password")
    # A live session of the squatter (not reachable through the API for an
    # unverified account, but the rule must hold whatever created it).
    async with oauth.harness.ctx.sessionmaker() as db:
        squatter = await UserRepository(db).get_by_email(email)
        assert squatter is not None
        squatter_tokens = await SessionService(db, oauth.harness.ctx).start(
            squatter, ClientInfo(), amr=["pwd"]
        )
        await db.commit()

    tokens = await oauth.browser.tokens("google")

    me = await profile(oauth, tokens["access_token"])
    assert me["id"] == registered.json()["id"]
    assert me["is_verified"] is True
    assert me["full_name"] == "Ada Lovelace"
    assert me["oauth_providers"] == ["google"]
    assert (await stored_user(oauth, email)).hashed_password is None
    assert (await flows.login(client, email)).status_code == 401
    old_session = await client.get(
        f"{API}/users/profile", headers=bearer(squatter_tokens.access_token)
    )
    assert old_session.status_code == 401
    verify = await client.post(f"{API}/auth/verify-email", json={"token": verify_token})
    assert verify.json()["code"] == "invalid_token"
    reset = await client.post(
        f"{API}/auth/password-reset/complete",
        json={"token": reset_token, "new_password": "a brand new passphrase"},
    )
    assert reset.json()["code"] == "invalid_token"
    [linked] = await oauth.audit("oauth_linked")
    assert linked.details == {"provider": "google", "via": "takeover"}
    [verified] = await oauth.audit("email_verified")
    assert verified.details["via"] == "oauth_takeover"
    assert verified.details["sessions_revoked"] == 1


async def test_an_unverified_local_account_is_not_taken_over_by_an_unverified_email(
    oauth: OAuthSetup,
) -> None:
    email = "ada@example.com"
    assert (await flows.register(oauth.harness.client, email)).status_code == 201
    oauth.provider.as_github(9011, email, verified=False)

    landing = await oauth.browser.sign_in("github")

    assert query(landing) == {"error": "email_unverified"}
    user = await stored_user(oauth, email)
    assert user.is_verified is False
    assert user.hashed_password is not None


async def test_a_linked_identity_wins_over_a_changed_email(oauth: OAuthSetup) -> None:
    first = await profile(oauth, (await oauth.browser.tokens("google"))["access_token"])
    other = await oauth.harness.user("bob@example.com")
    # The provider now reports Bob's address for the same subject.
    oauth.provider.as_google("google-sub-1", other)

    second = await profile(oauth, (await oauth.browser.tokens("google"))["access_token"])

    assert second["id"] == first["id"]
    bob = await profile(oauth, (await oauth.harness.login(other))["access_token"])
    assert bob["oauth_providers"] == []


async def test_a_second_identity_of_one_provider_is_listed_once(oauth: OAuthSetup) -> None:
    oauth.provider.as_github(1, "ada@example.com")
    first = await oauth.browser.tokens("github")
    oauth.provider.as_github(2, "ada@example.com")
    second = await oauth.browser.tokens("github")

    me = await profile(oauth, second["access_token"])

    assert me["id"] == (await profile(oauth, first["access_token"]))["id"]
    assert me["oauth_providers"] == ["github"]


async def test_a_disabled_account_cannot_sign_in(oauth: OAuthSetup) -> None:
    await oauth.browser.tokens("google")
    code = query(await oauth.browser.sign_in("google"))["code"]
    async with oauth.harness.ctx.sessionmaker() as db:
        user = await UserRepository(db).get_by_email("ada@example.com")
        assert user is not None
        user.is_active = False
        db.add(user)
        await db.commit()

    landing = await oauth.browser.sign_in("google")
    late_exchange = await oauth.browser.exchange(code)

    assert query(landing) == {"error": "account_disabled"}
    assert late_exchange.status_code == 403
    assert late_exchange.json()["code"] == "account_disabled"


async def test_a_disabled_account_is_not_linked_by_email(oauth: OAuthSetup) -> None:
    email = await oauth.harness.user("ada@example.com")
    async with oauth.harness.ctx.sessionmaker() as db:
        user = await UserRepository(db).get_by_email(email)
        assert user is not None
        user.is_active = False
        db.add(user)
        await db.commit()

    landing = await oauth.browser.sign_in("github")

    assert query(landing) == {"error": "account_disabled"}
    assert await oauth.audit("oauth_linked") == []
