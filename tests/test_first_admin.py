"""FIRST_ADMIN_* at start-up, when several workers start at once."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import func
from sqlmodel import select

from app.database.migrations import upgrade_async
from app.main import create_app
from app.models import Role, User
from tests.conftest import base_settings
from tests.support.mail import Mailbox


async def test_workers_starting_together_create_one_admin_without_an_error(
    scratch_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await upgrade_async(base_settings(scratch_database_url))
    apps = [
        create_app(
            base_settings(
                scratch_database_url,
                FIRST_ADMIN_EMAIL="Root@Example.com",
                FIRST_ADMIN_PASSWORD="first admin passphrase",
                LOG_LEVEL="INFO",
                # Workers of one deployment share the store (and its key prefix).
                REDIS_KEY_PREFIX="test-first-admin",
            ),
            email_sender=Mailbox(),
        )
        for _ in range(4)
    ]
    capsys.readouterr()
    async with AsyncExitStack() as stack:
        # Four lifespans at once, like `backend serve --workers 4`.
        await asyncio.gather(
            *(stack.enter_async_context(app.router.lifespan_context(app)) for app in apps)
        )
        ctx = apps[0].state.ctx
        async with ctx.sessionmaker() as db:
            admins = (await db.exec(select(User).where(User.email == "root@example.com"))).all()
            total = (await db.exec(select(func.count()).select_from(User))).one()
        assert len(admins) == 1 and total == 1
        assert admins[0].role == Role.ADMIN and admins[0].is_verified
        # Losing the race is not a database error in any worker.
        assert [app.state.ctx.db_monitor.query_stats().errors for app in apps] == [0] * 4
        await ctx.store.clear("")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line[:1] == "{"]
    events = [line["event"] for line in lines if line["event"].startswith("first_admin")]
    assert sorted(events) == ["first_admin_created"] + ["first_admin_exists"] * 3
    assert not [line for line in lines if line["level"] in ("error", "critical")]
