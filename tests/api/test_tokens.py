"""Refresh rotation, reuse detection, logout and access-token checks over HTTP."""

from __future__ import annotations

import asyncio
import base64
import json

import jwt
import pytest
from sqlmodel import select

from app.models import AuditLog, UserSession
from tests.conftest import TEST_SECRET_KEY, Harness
from tests.support.flows import API, bearer


async def _profile(harness: Harness, token: str, **headers: str) -> int:
    response = await harness.client.get(
        f"{API}/users/profile", headers={**bearer(token), **headers}
    )
    return response.status_code


async def _refresh(harness: Harness, refresh_token: str) -> tuple[int, dict[str, object]]:
    response = await harness.client.post(
        f"{API}/auth/refresh", json={"refresh_token": refresh_token}
    )
    return response.status_code, response.json()


async def _events(harness: Harness, event: str) -> list[AuditLog]:
    async with harness.ctx.sessionmaker() as db:
        return list((await db.exec(select(AuditLog).where(AuditLog.event == event))).all())


async def test_refresh_rotates_and_the_old_token_dies(harness: Harness) -> None:
    pair = await harness.login(await harness.user())
    status, new = await _refresh(harness, pair["refresh_token"])
    assert status == 200
    assert new["refresh_token"] != pair["refresh_token"]
    assert new["access_token"] != pair["access_token"]
    assert await _profile(harness, str(new["access_token"])) == 200
    status, body = await _refresh(harness, str(new["refresh_token"]))
    assert status == 200
    assert len(await _events(harness, "token_refreshed")) == 2


async def test_reusing_a_refresh_token_revokes_the_whole_session(harness: Harness) -> None:
    pair = await harness.login(await harness.user())
    _, second = await _refresh(harness, pair["refresh_token"])
    status, body = await _refresh(harness, pair["refresh_token"])  # replay of a used token
    assert status == 401
    assert body == {
        "detail": "The refresh token is invalid or has expired",
        "code": "invalid_refresh_token",
    }
    # The thief's and the owner's newer tokens are dead too.
    assert (await _refresh(harness, str(second["refresh_token"])))[0] == 401
    assert await _profile(harness, str(second["access_token"])) == 401
    assert await _profile(harness, pair["access_token"]) == 401
    reuse = await _events(harness, "refresh_token_reuse")
    assert len(reuse) == 1 and reuse[0].details["session_revoked"] is True


async def test_two_concurrent_refreshes_of_one_token(harness: Harness) -> None:
    pair = await harness.login(await harness.user())
    results = await asyncio.gather(
        _refresh(harness, pair["refresh_token"]), _refresh(harness, pair["refresh_token"])
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 401]
    # No grace window: the second use is a reuse, so the session is gone.
    winner = next(body for status, body in results if status == 200)
    assert await _profile(harness, str(winner["access_token"])) == 401
    async with harness.ctx.sessionmaker() as db:
        sessions = (await db.exec(select(UserSession))).all()
    assert [s.revoke_reason for s in sessions] == ["refresh_reuse"]


@pytest.mark.parametrize("token", ["unknown-token", "x" * 512])
async def test_unknown_refresh_tokens(harness: Harness, token: str) -> None:
    assert (await _refresh(harness, token))[0] == 401


async def test_refresh_token_expires_with_the_session(harness: Harness) -> None:
    pair = await harness.login(await harness.user())
    harness.clock.advance(minutes=harness.settings.REFRESH_TOKEN_EXPIRE_MINUTES, seconds=1)
    status, body = await _refresh(harness, pair["refresh_token"])
    assert status == 401 and body["code"] == "invalid_refresh_token"


async def test_rotation_does_not_extend_the_session(harness: Harness) -> None:
    pair = await harness.login(await harness.user())
    lifetime = harness.settings.REFRESH_TOKEN_EXPIRE_MINUTES
    harness.clock.advance(minutes=lifetime - 1)
    status, new = await _refresh(harness, pair["refresh_token"])
    assert status == 200
    harness.clock.advance(minutes=2)
    assert (await _refresh(harness, str(new["refresh_token"])))[0] == 401


async def test_logout_kills_the_access_token_at_once(harness: Harness) -> None:
    pair = await harness.login(await harness.user())
    response = await harness.client.post(f"{API}/auth/logout", headers=bearer(pair["access_token"]))
    assert response.status_code == 204 and response.content == b""
    assert await _profile(harness, pair["access_token"]) == 401
    assert (await _refresh(harness, pair["refresh_token"]))[0] == 401
    assert len(await _events(harness, "logout")) == 1


async def test_logout_with_a_refresh_token_of_another_own_session(harness: Harness) -> None:
    email = await harness.user()
    first, second = await harness.login(email), await harness.login(email)
    response = await harness.client.post(
        f"{API}/auth/logout",
        headers=bearer(first["access_token"]),
        json={"refresh_token": second["refresh_token"]},
    )
    assert response.status_code == 204
    assert await _profile(harness, second["access_token"]) == 401


async def test_logout_ignores_someone_elses_refresh_token(harness: Harness) -> None:
    mine = await harness.login(await harness.user())
    theirs = await harness.login(await harness.user())
    await harness.client.post(
        f"{API}/auth/logout",
        headers=bearer(mine["access_token"]),
        json={"refresh_token": theirs["refresh_token"]},
    )
    assert await _profile(harness, theirs["access_token"]) == 200


async def test_logout_all_revokes_every_session(harness: Harness) -> None:
    email = await harness.user()
    sessions = [await harness.login(email) for _ in range(3)]
    response = await harness.client.post(
        f"{API}/auth/logout-all", headers=bearer(sessions[0]["access_token"])
    )
    assert response.status_code == 204
    for pair in sessions:
        assert await _profile(harness, pair["access_token"]) == 401
        assert (await _refresh(harness, pair["refresh_token"]))[0] == 401


async def test_logout_needs_a_token(harness: Harness) -> None:
    response = await harness.client.post(f"{API}/auth/logout")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"detail": "Not authenticated", "code": "not_authenticated"}


def _forge(
    payload: dict[str, object], header: dict[str, object], key: str = TEST_SECRET_KEY
) -> str:
    return jwt.encode(payload, key, algorithm="HS256", headers=header)


def _decode(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_tampered_and_forged_access_tokens(harness: Harness) -> None:
    pair = await harness.login(await harness.user())
    token = pair["access_token"]
    payload = _decode(token)
    head, body, sig = token.split(".")
    cases = {
        "bad signature": f"{head}.{body}.{sig[::-1]}",
        "other key": _forge(payload, {"typ": "at+jwt"}, key="another-key-" + "z" * 40),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{_b64(payload)}.",
        "wrong typ": _forge(payload, {"typ": "JWT"}),
        "wrong type": _forge({**payload, "type": "refresh"}, {"typ": "at+jwt"}),
        "wrong iss": _forge({**payload, "iss": "http://evil"}, {"typ": "at+jwt"}),
        "wrong aud": _forge({**payload, "aud": "http://evil"}, {"typ": "at+jwt"}),
        "no sid": _forge({k: v for k, v in payload.items() if k != "sid"}, {"typ": "at+jwt"}),
        "unknown sid": _forge(
            {**payload, "sid": "00000000-0000-0000-0000-000000000000"}, {"typ": "at+jwt"}
        ),
        "other sub": _forge(
            {**payload, "sub": "00000000-0000-0000-0000-000000000000"}, {"typ": "at+jwt"}
        ),
        "refresh token as access": pair["refresh_token"],
    }
    for name, forged in cases.items():
        assert await _profile(harness, forged) == 401, name
    assert await _profile(harness, token) == 200


async def test_tokens_not_yet_valid_are_refused(harness: Harness) -> None:
    """A token signed with our key whose `nbf` lies ahead, or whose `iat` is more than
    30 s ahead, is refused; once its time has come it works (SPEC §7.3)."""
    pair = await harness.login(await harness.user())
    payload = _decode(pair["access_token"])
    now = int(harness.clock.now().timestamp())
    early = _forge({**payload, "nbf": now + 120}, {"typ": "at+jwt"})
    ahead = _forge({**payload, "iat": now + 45}, {"typ": "at+jwt"})
    slight = _forge({**payload, "iat": now + 20}, {"typ": "at+jwt"})
    assert await _profile(harness, early) == 401
    assert await _profile(harness, ahead) == 401
    assert await _profile(harness, slight) == 200  # within the 30 s skew
    harness.clock.advance(seconds=121)
    assert await _profile(harness, early) == 200  # refused while early, not forever


async def test_expired_access_token_by_the_clock(harness: Harness) -> None:
    pair = await harness.login(await harness.user())
    harness.clock.advance(minutes=30, seconds=1)
    assert await _profile(harness, pair["access_token"]) == 401


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer x.y.z", "Token abc"],
)
async def test_malformed_authorization_headers(harness: Harness, authorization: str) -> None:
    response = await harness.client.get(
        f"{API}/users/profile", headers={"Authorization": authorization}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


async def test_token_is_read_only_from_the_authorization_header(harness: Harness) -> None:
    pair = await harness.login(await harness.user())
    token = pair["access_token"]
    by_query = await harness.client.get(f"{API}/users/profile", params={"access_token": token})
    by_cookie = await harness.client.get(
        f"{API}/users/profile", headers={"Cookie": f"access_token={token}"}
    )
    assert by_query.status_code == by_cookie.status_code == 401
