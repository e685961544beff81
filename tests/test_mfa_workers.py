"""A TOTP step is accepted once per account across processes (SPEC §7.1): a
`backend serve` process and this test's own app, on one database and one Redis,
each given the same code at the same moment, accept it exactly once between them."""

from __future__ import annotations

import asyncio
import os
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.conftest import HarnessFactory
from tests.support.redis_server import redis_server
from tests.support.server import running_server, server_env
from tests.support.totp import enrol, mfa_token

API = "/api/v1"


async def test_a_totp_step_is_accepted_once_across_processes(
    tmp_path: Path, database_url: str, make_harness: HarnessFactory
) -> None:
    with ExitStack() as stack:
        redis_url = os.environ.get("TEST_REDIS_URL")
        if not redis_url:
            redis_url = stack.enter_context(redis_server(tmp_path)).url
        here = await make_harness(REDIS_URL=redis_url)
        email = await here.user()
        pair = await here.login(email)
        app, _ = await enrol(here.client, pair["access_token"], here.clock)
        env = server_env(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            REDIS_KEY_PREFIX=here.settings.REDIS_KEY_PREFIX,
            # The same budgets as this app's: they share counters in Redis.
            RATE_LIMIT_PER_MINUTE=str(here.settings.RATE_LIMIT_PER_MINUTE),
            AUTH_RATE_LIMIT_PER_MINUTE=str(here.settings.AUTH_RATE_LIMIT_PER_MINUTE),
            EMAIL_BACKEND="console",
        )
        other = stack.enter_context(running_server(env, tmp_path, name="other"))
        async with httpx.AsyncClient(base_url=other.base) as remote:
            credentials = {"email": email, "password": "correct horse battery staple"}
            tokens = [
                mfa_token(await client.post(f"{API}/auth/login", json=credentials))
                for client in (here.client, remote)
            ]
            # Both processes on the real time; the next step, not the one enrolment spent.
            here.clock.current = datetime.now(UTC)
            code = app.code(steps=1)
            answers = await asyncio.gather(
                *(
                    client.post(f"{API}/auth/mfa/verify", json={"mfa_token": token, "code": code})
                    for client, token in zip((here.client, remote), tokens, strict=True)
                )
            )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200, 400], [answer.text for answer in answers]
        refused = next(answer for answer in answers if answer.status_code == 400)
        assert refused.json()["code"] == "invalid_mfa_code"
