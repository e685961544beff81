"""The refresh token in an HttpOnly cookie (SPEC §7.6), over HTTP.

Cookies are sent by hand (`Cookie:` header) and the client's jar is emptied
after every answer, so each request carries exactly what the test says.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from sqlmodel import select

from app.api.routing import AppRoute
from app.models import AuditLog, UserSession
from app.schemas.auth import TokenPair
from tests.conftest import Harness, HarnessFactory
from tests.support import oauth_flow, passkeys
from tests.support.authenticator import Authenticator
from tests.support.flows import API, PASSWORD, bearer

SPA = "http://app.example.test"
OWN = "http://testserver"  # BACKEND_BASE_URL's origin in the tests
FOREIGN = "http://evil.example"
REFRESH = f"{API}/auth/refresh"
LOGOUT = f"{API}/auth/logout"
LIFETIME_MINUTES = 600


async def cookie_harness(
    make_harness: HarnessFactory, mode: str = "cookie", **extra: Any
) -> Harness:
    return await make_harness(
        REFRESH_TOKEN_TRANSPORT=mode,
        BACKEND_CORS_ORIGINS=[SPA],
        REFRESH_TOKEN_EXPIRE_MINUTES=LIFETIME_MINUTES,
        **extra,
    )


def set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def refresh_cookie(response: httpx.Response, name: str = "refresh_token") -> dict[str, Any]:
    """The one Set-Cookie of the refresh cookie: its value and every attribute, raw."""
    (header,) = [h for h in set_cookies(response) if h.startswith(f"{name}=")]
    parts = [part.strip() for part in header.split(";")]
    value = parts[0].split("=", 1)[1]
    attributes = {}
    for part in parts[1:]:
        key, _, val = part.partition("=")
        attributes[key] = val
    return {"value": value, "attributes": attributes, "raw": header}


async def post(
    harness: Harness,
    path: str,
    *,
    cookie: str | None = None,
    origin: str | None = SPA,
    **kwargs: Any,
) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}))
    if cookie is not None:
        headers["Cookie"] = cookie
    if origin is not None:
        headers["Origin"] = origin
    response = await harness.client.post(path, headers=headers, **kwargs)
    harness.client.cookies.clear()
    return response


async def signed_in(harness: Harness) -> tuple[str, dict[str, Any], httpx.Response]:
    email = await harness.user()
    response = await post(harness, f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return email, response.json(), response


async def sessions(harness: Harness) -> list[UserSession]:
    async with harness.ctx.sessionmaker() as db:
        return list((await db.exec(select(UserSession))).all())


async def events(harness: Harness, name: str) -> list[AuditLog]:
    async with harness.ctx.sessionmaker() as db:
        return list((await db.exec(select(AuditLog).where(AuditLog.event == name))).all())


# Setting the cookie -------------------------------------------------------------------


async def test_body_mode_is_unchanged(make_harness: HarnessFactory) -> None:
    harness = await make_harness(BACKEND_CORS_ORIGINS=[SPA])
    _, pair, response = await signed_in(harness)
    assert pair["refresh_token"]
    assert set_cookies(response) == []
    assert "access-control-allow-credentials" not in response.headers
    # The cookie is not read: a refresh without a token in its body is §4's 422.
    cookie = f"refresh_token={pair['refresh_token']}"
    for body in (None, {}):
        refused = await post(harness, REFRESH, cookie=cookie, json=body)
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["type"] == "missing"
        assert set_cookies(refused) == []


async def test_cookie_mode_sets_the_cookie_exactly_and_nulls_the_json(
    make_harness: HarnessFactory,
) -> None:
    harness = await cookie_harness(make_harness)
    _, pair, response = await signed_in(harness)
    assert pair["refresh_token"] is None
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    cookie = refresh_cookie(response)
    assert cookie["raw"] == (
        f"refresh_token={cookie['value']}; Max-Age={LIFETIME_MINUTES * 60}; "
        "Path=/api/v1/auth; HttpOnly; SameSite=Strict"
    )
    assert len(cookie["value"]) == 43
    # Parsed the standard way too: one cookie, the same value.
    parsed = SimpleCookie(cookie["raw"])
    assert parsed["refresh_token"].value == cookie["value"]
    assert parsed["refresh_token"]["httponly"] is True


async def test_both_mode_puts_one_token_in_json_and_cookie(make_harness: HarnessFactory) -> None:
    harness = await cookie_harness(make_harness, "both")
    _, pair, response = await signed_in(harness)
    assert pair["refresh_token"] == refresh_cookie(response)["value"]


async def test_an_https_backend_gets_a_secure_prefixed_cookie(make_harness: HarnessFactory) -> None:
    harness = await cookie_harness(make_harness, BACKEND_BASE_URL="https://api.example.test")
    _, _, response = await signed_in(harness)
    cookie = refresh_cookie(response, "__Secure-refresh_token")
    assert cookie["attributes"] == {
        "Max-Age": str(LIFETIME_MINUTES * 60),
        "Path": "/api/v1/auth",
        "HttpOnly": "",
        "SameSite": "Strict",
        "Secure": "",
    }
    token = cookie["value"]
    # Only the configured name is read.
    plain = await post(harness, REFRESH, cookie=f"refresh_token={token}", origin=SPA)
    assert plain.status_code == 401
    good = await post(harness, REFRESH, cookie=f"__Secure-refresh_token={token}", origin=SPA)
    assert good.status_code == 200, good.text
    assert refresh_cookie(good, "__Secure-refresh_token")["value"] != token


async def test_max_age_is_what_is_left_of_the_session(make_harness: HarnessFactory) -> None:
    harness = await cookie_harness(make_harness)
    _, _, response = await signed_in(harness)
    harness.clock.advance(minutes=100, seconds=30)
    refreshed = await post(
        harness, REFRESH, cookie=f"refresh_token={refresh_cookie(response)['value']}"
    )
    assert refreshed.status_code == 200, refreshed.text
    left = (LIFETIME_MINUTES - 100) * 60 - 30
    assert refresh_cookie(refreshed)["attributes"]["Max-Age"] == str(left)


async def test_every_sign_in_route_sets_the_cookie(make_harness: HarnessFactory) -> None:
    setup = await oauth_flow.start(
        make_harness,
        REFRESH_TOKEN_TRANSPORT="cookie",
        BACKEND_CORS_ORIGINS=[SPA],
        WEBAUTHN_ORIGINS=["http://frontend.test"],
    )
    harness = setup.harness
    email = await harness.user()
    answers: dict[str, httpx.Response] = {}

    answers["login"], access = await _login(harness, email)
    answers["token"] = await post(
        harness, f"{API}/auth/token", data={"username": email, "password": PASSWORD}
    )
    # OAuth: the browser's flow keeps its binding cookie in the jar, so no clearing here.
    landing = oauth_flow.query(await setup.browser.sign_in("google"))
    answers["oauth exchange"] = await harness.client.post(
        f"{API}/oauth/exchange", json={"code": landing["code"]}
    )
    harness.client.cookies.clear()

    await harness.client.post(f"{API}/auth/magic-link", json={"email": email})
    await harness.settle()
    link = harness.mailbox.link(email, "/magic-link")
    token = link.split("token=", 1)[1].split("&", 1)[0]
    answers["magic link"] = await post(
        harness, f"{API}/auth/magic-link/verify", json={"token": token}
    )
    await harness.client.post(f"{API}/auth/magic-link", json={"email": email})
    await harness.settle()
    code = harness.mailbox.to(email)[-1].text.split("code", 1)[1]
    digits = "".join(ch for ch in code if ch.isdigit())[:6]
    answers["email code"] = await post(
        harness, f"{API}/auth/email-code/verify", json={"email": email, "code": digits}
    )

    authenticator = Authenticator()
    await passkeys.added(harness.client, access, authenticator)
    answers["passkey"] = await passkeys.sign_in(harness.client, authenticator)
    harness.client.cookies.clear()

    for route, response in answers.items():
        assert response.status_code == 200, (route, response.text)
        assert response.json()["refresh_token"] is None, route
        value = refresh_cookie(response)["value"]
        refreshed = await post(harness, REFRESH, cookie=f"refresh_token={value}")
        assert refreshed.status_code == 200, (route, refreshed.text)


async def _login(harness: Harness, email: str) -> tuple[httpx.Response, str]:
    response = await post(harness, f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    return response, response.json()["access_token"]


async def test_a_new_route_answering_a_token_pair_sets_the_cookie_by_itself(
    make_harness: HarnessFactory,
) -> None:
    """The rule lives in the route class: a future sign-in route cannot forget it."""
    harness = await cookie_harness(make_harness)
    _, _, response = await signed_in(harness)
    token = refresh_cookie(response)["value"]
    router = APIRouter(route_class=AppRoute)

    @router.post("/api/v1/auth/future-sign-in")
    async def future_sign_in() -> TokenPair:
        async with harness.ctx.sessionmaker() as db:
            from app.services.sessions import SessionService

            return await SessionService(db, harness.ctx).rotate(token, _client())

    harness.app.include_router(router)
    answer = await post(harness, f"{API}/auth/future-sign-in")
    assert answer.status_code == 200, answer.text
    assert answer.json()["refresh_token"] is None
    assert refresh_cookie(answer)["attributes"]["HttpOnly"] == ""


def _client() -> Any:
    from app.services.context import ClientInfo

    return ClientInfo(ip="127.0.0.1", user_agent=None)


# Reading it: refresh -------------------------------------------------------------------


@pytest.mark.parametrize("origin", [SPA, OWN])
async def test_refresh_reads_the_cookie_from_an_allowed_origin(
    make_harness: HarnessFactory, origin: str
) -> None:
    harness = await cookie_harness(make_harness)
    _, _, response = await signed_in(harness)
    old = refresh_cookie(response)["value"]
    refreshed = await post(harness, REFRESH, cookie=f"refresh_token={old}", origin=origin)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] is None
    new = refresh_cookie(refreshed)["value"]
    assert new != old
    # The old one is dead, and presenting it again is reuse: 401, cookie cleared.
    again = await post(harness, REFRESH, cookie=f"refresh_token={old}", origin=origin)
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_refresh_token"
    assert refresh_cookie(again)["raw"] == (
        "refresh_token=; Max-Age=0; Path=/api/v1/auth; HttpOnly; SameSite=Strict"
    )
    assert len(await events(harness, "refresh_token_reuse")) == 1


@pytest.mark.parametrize(
    "origin",
    [None, FOREIGN, "null", "http://app.example.test.evil.example", "http://app.example.test:8080"],
)
async def test_refresh_refuses_the_cookie_from_another_origin_and_spends_nothing(
    make_harness: HarnessFactory, origin: str | None
) -> None:
    harness = await cookie_harness(make_harness)
    _, _, response = await signed_in(harness)
    token = refresh_cookie(response)["value"]
    refused = await post(harness, REFRESH, cookie=f"refresh_token={token}", origin=origin, json={})
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert set_cookies(refused) == []  # the cookie is left as it is
    assert await events(harness, "token_refreshed") == []
    good = await post(harness, REFRESH, cookie=f"refresh_token={token}")
    assert good.status_code == 200, good.text


@pytest.mark.parametrize(
    "garbage",
    ["", "not a token", "x" * 600, "%00%ff", '"quoted"', "ünïcödé", "a;b", "=="],
)
async def test_a_garbage_cookie_is_a_401_that_clears_it(
    make_harness: HarnessFactory, garbage: str
) -> None:
    harness = await cookie_harness(make_harness)
    refused = await harness.client.post(
        REFRESH, headers={"Cookie": f"refresh_token={garbage}".encode(), "Origin": SPA}
    )
    assert refused.status_code == 401, refused.text
    assert refused.json() == {
        "detail": "The refresh token is invalid or has expired",
        "code": "invalid_refresh_token",
    }
    assert refresh_cookie(refused)["attributes"]["Max-Age"] == "0"


async def test_two_cookies_of_the_name_are_refused_and_neither_is_spent(
    make_harness: HarnessFactory,
) -> None:
    harness = await cookie_harness(make_harness)
    _, _, first = await signed_in(harness)
    _, _, second = await signed_in(harness)
    one, two = refresh_cookie(first)["value"], refresh_cookie(second)["value"]
    refused = await post(
        harness, REFRESH, cookie=f"refresh_token={one}; other=1; refresh_token={two}"
    )
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_refresh_token"
    # Split over two Cookie headers (as HTTP/2 may send them): the same.
    split = await harness.client.post(
        REFRESH,
        headers=[
            ("Cookie", f"refresh_token={one}"),
            ("Cookie", f"refresh_token={two}"),
            ("Origin", SPA),
        ],
    )
    assert split.status_code == 401
    for token in (one, two):
        assert (await post(harness, REFRESH, cookie=f"refresh_token={token}")).status_code == 200


async def test_a_body_token_wins_over_the_cookie(make_harness: HarnessFactory) -> None:
    harness = await cookie_harness(make_harness, "both")
    _, first, _ = await signed_in(harness)
    _, _, second = await signed_in(harness)
    cookie_token = refresh_cookie(second)["value"]
    # From a foreign origin too: the cookie is not read at all.
    answer = await post(
        harness,
        REFRESH,
        cookie=f"refresh_token={cookie_token}",
        origin=FOREIGN,
        json={"refresh_token": first["refresh_token"]},
    )
    assert answer.status_code == 200, answer.text
    assert (await post(harness, REFRESH, cookie=f"refresh_token={cookie_token}")).status_code == 200


async def test_a_refresh_without_any_token_is_a_401(make_harness: HarnessFactory) -> None:
    harness = await cookie_harness(make_harness)
    for kwargs in ({}, {"json": {}}):
        refused = await post(harness, REFRESH, **kwargs)
        assert refused.status_code == 401
        assert refresh_cookie(refused)["attributes"]["Max-Age"] == "0"


# Reading it: logout --------------------------------------------------------------------


async def test_logout_with_the_cookie_alone_ends_the_session(make_harness: HarnessFactory) -> None:
    harness = await cookie_harness(make_harness)
    _, pair, response = await signed_in(harness)
    token = refresh_cookie(response)["value"]
    out = await post(harness, LOGOUT, cookie=f"refresh_token={token}")
    assert out.status_code == 204, out.text
    assert refresh_cookie(out)["attributes"]["Max-Age"] == "0"
    profile = await harness.client.get(f"{API}/users/profile", headers=bearer(pair["access_token"]))
    assert profile.status_code == 401
    (session,) = await sessions(harness)
    assert session.revoked_at is not None
    assert len(await events(harness, "logout")) == 1
    # The token is dead, and a second logout with it is a 401 that clears again.
    again = await post(harness, LOGOUT, cookie=f"refresh_token={token}")
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_refresh_token"
    assert refresh_cookie(again)["attributes"]["Max-Age"] == "0"


async def test_logout_with_a_bearer_clears_the_cookie(make_harness: HarnessFactory) -> None:
    harness = await cookie_harness(make_harness)
    _, pair, response = await signed_in(harness)
    out = await post(harness, LOGOUT, headers=bearer(pair["access_token"]), origin=None)
    assert out.status_code == 204
    assert refresh_cookie(out)["attributes"]["Max-Age"] == "0"
    token = refresh_cookie(response)["value"]
    assert (await post(harness, REFRESH, cookie=f"refresh_token={token}")).status_code == 401


async def test_logout_without_any_credential_is_a_401_that_clears(
    make_harness: HarnessFactory,
) -> None:
    harness = await cookie_harness(make_harness)
    out = await post(harness, LOGOUT, headers=bearer("not-a-jwt"))
    assert out.status_code == 401
    assert out.json()["code"] == "not_authenticated"
    assert refresh_cookie(out)["attributes"]["Max-Age"] == "0"


@pytest.mark.parametrize("origin", [None, FOREIGN])
async def test_logout_refuses_the_cookie_from_another_origin(
    make_harness: HarnessFactory, origin: str | None
) -> None:
    harness = await cookie_harness(make_harness)
    _, pair, response = await signed_in(harness)
    token = refresh_cookie(response)["value"]
    refused = await post(harness, LOGOUT, cookie=f"refresh_token={token}", origin=origin)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert set_cookies(refused) == []
    (session,) = await sessions(harness)
    assert session.revoked_at is None
    assert await events(harness, "logout") == []


async def test_body_mode_logout_still_needs_a_bearer(make_harness: HarnessFactory) -> None:
    harness = await make_harness()
    _, pair, _ = await signed_in(harness)
    out = await post(harness, LOGOUT, json={"refresh_token": pair["refresh_token"]})
    assert out.status_code == 401
    assert out.json()["code"] == "not_authenticated"
    assert set_cookies(out) == []


# CORS --------------------------------------------------------------------------------


async def test_credentials_are_allowed_for_listed_origins_in_cookie_modes(
    make_harness: HarnessFactory,
) -> None:
    harness = await cookie_harness(make_harness)
    preflight = await harness.client.options(
        REFRESH,
        headers={"Origin": SPA, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == SPA
    assert preflight.headers["access-control-allow-credentials"] == "true"
    simple = await harness.client.get("/health", headers={"Origin": SPA})
    assert simple.headers["access-control-allow-credentials"] == "true"
    foreign = await harness.client.get("/health", headers={"Origin": FOREIGN})
    assert "access-control-allow-credentials" not in foreign.headers
    assert "access-control-allow-origin" not in foreign.headers


async def test_a_wildcard_origin_list_never_allows_credentials(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(REFRESH_TOKEN_TRANSPORT="cookie", BACKEND_CORS_ORIGINS=["*"])
    simple = await harness.client.get("/health", headers={"Origin": SPA})
    assert simple.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in simple.headers
    # ... nor does it vouch for the cookie: only BACKEND_BASE_URL's origin does.
    _, _, response = await signed_in(harness)
    token = refresh_cookie(response)["value"]
    assert (await post(harness, REFRESH, cookie=f"refresh_token={token}")).status_code == 403
    assert (
        await post(harness, REFRESH, cookie=f"refresh_token={token}", origin=OWN)
    ).status_code == 200
