"""POST /oauth/exchange: the one-time code from the callback becomes a token pair."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import select

from app.core.security import hash_token
from app.models import OneTimeToken, TokenPurpose
from tests.conftest import HarnessFactory
from tests.support import flows, oauth_flow
from tests.support.flows import bearer
from tests.support.oauth_flow import OAUTH, OAuthSetup, query


@pytest.fixture
async def oauth(make_harness: HarnessFactory) -> OAuthSetup:
    return await oauth_flow.start(make_harness)


async def exchange_code(oauth: OAuthSetup) -> str:
    return query(await oauth.browser.sign_in("google"))["code"]


def assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The token is invalid or has expired",
        "code": "invalid_token",
    }


async def test_exchange_returns_a_working_token_pair(oauth: OAuthSetup) -> None:
    response = await oauth.browser.exchange(await exchange_code(oauth))

    assert response.status_code == 200
    pair = response.json()
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] > 0
    assert response.headers["cache-control"] == "no-store"
    sessions = await oauth.harness.client.get(
        "/api/v1/users/sessions", headers=bearer(pair["access_token"])
    )
    assert [s["current"] for s in sessions.json()] == [True]
    refreshed = await oauth.harness.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 200


async def test_an_exchange_code_works_once(oauth: OAuthSetup) -> None:
    code = await exchange_code(oauth)
    assert (await oauth.browser.exchange(code)).status_code == 200

    assert_invalid_token(await oauth.browser.exchange(code))


async def test_an_exchange_code_expires_after_60_seconds(oauth: OAuthSetup) -> None:
    code = await exchange_code(oauth)
    oauth.harness.clock.advance(seconds=60)

    assert_invalid_token(await oauth.browser.exchange(code))


async def test_an_exchange_code_works_within_60_seconds(oauth: OAuthSetup) -> None:
    code = await exchange_code(oauth)
    oauth.harness.clock.advance(seconds=59)

    assert (await oauth.browser.exchange(code)).status_code == 200


async def test_an_unknown_code_is_refused(oauth: OAuthSetup) -> None:
    assert_invalid_token(await oauth.browser.exchange("not-a-code-we-issued"))


async def test_an_exchange_code_is_no_other_kind_of_token(oauth: OAuthSetup) -> None:
    code = await exchange_code(oauth)
    client = oauth.harness.client

    verify = await client.post("/api/v1/auth/verify-email", json={"token": code})
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": code})

    assert_invalid_token(verify)
    assert refresh.status_code == 401
    # A failed attempt elsewhere spends nothing.
    assert (await oauth.browser.exchange(code)).status_code == 200


async def test_a_verification_token_is_not_an_exchange_code(oauth: OAuthSetup) -> None:
    email = flows.new_email()
    await flows.register(oauth.harness.client, email)
    await oauth.harness.settle()
    token = oauth.harness.mailbox.token(email, "/verify-email")

    assert_invalid_token(await oauth.browser.exchange(token))


async def test_exchange_codes_are_stored_hashed(oauth: OAuthSetup) -> None:
    code = await exchange_code(oauth)

    async with oauth.harness.ctx.sessionmaker() as db:
        rows = (await db.exec(select(OneTimeToken))).all()
    [row] = [r for r in rows if r.purpose == TokenPurpose.OAUTH_EXCHANGE]
    assert row.token_hash == hash_token(code)
    assert (row.expires_at - row.created_at).total_seconds() == 60


@pytest.mark.parametrize(
    "body",
    [{}, {"code": ""}, {"code": "x", "extra": 1}, {"code": 5}, {"code": "a" * 600}],
)
async def test_exchange_validates_its_body(oauth: OAuthSetup, body: dict[str, object]) -> None:
    response = await oauth.harness.client.post(f"{OAUTH}/exchange", json=body)

    assert response.status_code == 422


async def test_exchange_wants_json(oauth: OAuthSetup) -> None:
    response = await oauth.harness.client.post(
        f"{OAUTH}/exchange", content=b"code=abc", headers={"content-type": "text/plain"}
    )

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
