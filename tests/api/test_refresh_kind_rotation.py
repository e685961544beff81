"""Kind refresh rotation and the idle timeout (SPEC §7.3)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import col, func, select

from app.models import AuditLog, RefreshToken, UserSession
from tests.conftest import Harness, HarnessFactory
from tests.support.flows import API, bearer


async def _refresh(harness: Harness, token: str) -> tuple[int, dict[str, Any]]:
    response = await harness.client.post(f"{API}/auth/refresh", json={"refresh_token": token})
    return response.status_code, response.json()


async def _profile(harness: Harness, token: str) -> int:
    response = await harness.client.get(f"{API}/users/profile", headers=bearer(token))
    return response.status_code


async def _session(harness: Harness) -> UserSession:
    async with harness.ctx.sessionmaker() as db:
        return (await db.exec(select(UserSession))).one()


async def _children(harness: Harness) -> int:
    async with harness.ctx.sessionmaker() as db:
        counts = await db.exec(
            select(func.count())
            .select_from(RefreshToken)
            .where(col(RefreshToken.parent_id).is_not(None))
            .group_by(col(RefreshToken.parent_id))
        )
        return max(counts.all(), default=0)


async def test_two_tabs_within_the_interval_get_the_same_successor(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(REFRESH_TOKEN_REUSE_INTERVAL_SECONDS=10)
    pair = await harness.login(await harness.user())
    first_status, first = await _refresh(harness, pair["refresh_token"])
    harness.clock.advance(seconds=9)
    second_status, second = await _refresh(harness, pair["refresh_token"])
    assert first_status == second_status == 200
    assert first["refresh_token"] == second["refresh_token"]  # one token, not two branches
    assert first["access_token"] != second["access_token"]
    assert await _profile(harness, second["access_token"]) == 200
    assert await _children(harness) == 1
    session = await _session(harness)
    async with harness.ctx.sessionmaker() as db:
        rows = (await db.exec(select(AuditLog).where(AuditLog.event == "token_refreshed"))).all()
    assert len(rows) == 2
    assert {r.user_id for r in rows} == {r.actor_id for r in rows} == {session.user_id}
    assert [r.details["session_id"] for r in rows] == [str(session.id)] * 2
    assert sorted(r.details.get("repeated", False) for r in rows) == [False, True]
    # The shared successor works, and then the old token is plain reuse.
    third_status, third = await _refresh(harness, first["refresh_token"])
    assert third_status == 200
    assert (await _refresh(harness, pair["refresh_token"]))[0] == 401
    assert (await _session(harness)).revoke_reason == "refresh_reuse"
    assert (await _refresh(harness, third["refresh_token"]))[0] == 401


async def test_concurrent_refreshes_within_the_interval_share_one_successor(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(REFRESH_TOKEN_REUSE_INTERVAL_SECONDS=5)
    pair = await harness.login(await harness.user())
    results = await asyncio.gather(*(_refresh(harness, pair["refresh_token"]) for _ in range(4)))
    assert [status for status, _ in results] == [200] * 4
    assert len({body["refresh_token"] for _, body in results}) == 1
    assert (await _session(harness)).revoked_at is None
    assert await _children(harness) == 1


async def test_after_the_interval_a_second_use_is_reuse(make_harness: HarnessFactory) -> None:
    harness = await make_harness(REFRESH_TOKEN_REUSE_INTERVAL_SECONDS=10)
    pair = await harness.login(await harness.user())
    _, first = await _refresh(harness, pair["refresh_token"])
    harness.clock.advance(seconds=11)
    assert (await _refresh(harness, pair["refresh_token"]))[0] == 401
    assert (await _session(harness)).revoke_reason == "refresh_reuse"
    assert (await _refresh(harness, first["refresh_token"]))[0] == 401
    async with harness.ctx.sessionmaker() as db:
        events = (await db.exec(select(AuditLog.event))).all()
    assert "refresh_token_reuse" in events


async def test_default_interval_is_strict(harness: Harness) -> None:
    pair = await harness.login(await harness.user())
    assert (await _refresh(harness, pair["refresh_token"]))[0] == 200
    assert (await _refresh(harness, pair["refresh_token"]))[0] == 401
    assert (await _session(harness)).revoke_reason == "refresh_reuse"


async def test_idle_session_dies_but_a_used_one_lives(make_harness: HarnessFactory) -> None:
    harness = await make_harness(SESSION_IDLE_TIMEOUT_MINUTES=10)
    pair = await harness.login(await harness.user())
    harness.clock.advance(minutes=9)
    status, body = await _refresh(harness, pair["refresh_token"])  # use resets the idle clock
    assert status == 200
    harness.clock.advance(minutes=9)
    status, body = await _refresh(harness, body["refresh_token"])
    assert status == 200
    harness.clock.advance(minutes=10, seconds=1)
    status, error = await _refresh(harness, body["refresh_token"])
    assert status == 401 and error["code"] == "invalid_refresh_token"
    session = await _session(harness)
    assert session.revoke_reason == "idle_timeout"
    assert await _profile(harness, body["access_token"]) == 401  # its access token dies too


async def test_idle_timeout_is_off_by_default(harness: Harness) -> None:
    pair = await harness.login(await harness.user())
    harness.clock.advance(days=6)
    assert (await _refresh(harness, pair["refresh_token"]))[0] == 200


async def test_idle_sessions_leave_the_session_list(make_harness: HarnessFactory) -> None:
    harness = await make_harness(SESSION_IDLE_TIMEOUT_MINUTES=10)
    email = await harness.user()
    await harness.login(email)  # another device, never used again
    harness.clock.advance(minutes=11)
    current = await harness.login(email)
    response = await harness.client.get(
        f"{API}/users/sessions", headers=bearer(current["access_token"])
    )
    assert [s["current"] for s in response.json()] == [True]
