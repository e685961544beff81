"""Concurrent requests of one session that miss the cache share one database load."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Harness
from tests.support.flows import API, bearer


@contextmanager
def session_lookups(engine: AsyncEngine) -> Iterator[list[str]]:
    """Statements reading the sessions table while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        text = " ".join(statement.split())
        if text.upper().startswith("SELECT") and "FROM sessions " in text:
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def burst(harness: Harness, token: str, n: int = 20) -> list[int]:
    responses = await asyncio.gather(
        *(harness.client.get(f"{API}/users/profile", headers=bearer(token)) for _ in range(n))
    )
    return [r.status_code for r in responses]


async def test_a_burst_of_cold_requests_loads_the_session_once(harness: Harness) -> None:
    token = (await harness.login(await harness.user()))["access_token"]
    engine = harness.ctx.sessionmaker.kw["bind"]
    with session_lookups(engine) as seen:
        assert await burst(harness, token) == [200] * 20
    assert len(seen) == 1

    # The user changes: the cached copies are stale, and the next burst reloads once.
    me = (await harness.client.get(f"{API}/users/profile", headers=bearer(token))).json()
    await harness.ctx.principals.forget_user(uuid.UUID(me["id"]))
    with session_lookups(engine) as seen:
        assert await burst(harness, token) == [200] * 20
    assert len(seen) == 1


async def test_a_revoked_session_fails_every_request_of_the_burst(harness: Harness) -> None:
    pair = await harness.login(await harness.user())
    token = pair["access_token"]
    logout = await harness.client.post(
        f"{API}/auth/logout", headers=bearer(token), json={"refresh_token": pair["refresh_token"]}
    )
    assert logout.status_code == 204
    assert await burst(harness, token) == [401] * 20
