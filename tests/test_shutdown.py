"""Graceful shutdown and fail-fast start-up."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from tests.conftest import TEST_PEPPER, TEST_SECRET_KEY, base_settings
from tests.support.mail import Mailbox
from tests.support.server import serving


async def test_in_flight_requests_and_jobs_finish_then_everything_closes(
    database_url: str,
) -> None:
    app = create_app(base_settings(database_url), email_sender=Mailbox())
    entered = asyncio.Event()
    release = asyncio.Event()
    jobs_done: list[str] = []

    async def slow() -> dict[str, str]:
        entered.set()
        await release.wait()

        async def after_the_response() -> None:  # like an email sent after a reset
            await asyncio.sleep(0.2)
            jobs_done.append("sent")

        app.state.ctx.background.submit("test-job", after_the_response)
        return {"finished": "yes"}

    app.add_api_route("/test-slow", slow)
    async with serving(app) as running:
        ctx = app.state.ctx
        in_flight = asyncio.create_task(running.client.get("/test-slow"))
        await entered.wait()
        stopping = asyncio.create_task(running.stop())  # what SIGTERM starts
        await asyncio.sleep(0.3)
        assert not stopping.done(), "shutdown must wait for the request in flight"
        # Meanwhile the listening socket is closed: new connections are refused.
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient(base_url=running.base_url) as fresh:
                await fresh.get("/health")
        release.set()
        response = await in_flight
        assert response.status_code == 200 and response.json() == {"finished": "yes"}
        await stopping
        # The lifespan's exit ran: background jobs drained, pools and clients closed.
        assert jobs_done == ["sent"]
        assert ctx.background.pending == 0
        assert ctx.http.is_closed
        assert ctx.db_monitor.engine.sync_engine.pool.checkedout() == 0


def test_serve_exits_at_once_with_one_line_when_the_database_is_unreachable(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    env |= {
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing",
        "SECRET_KEY": TEST_SECRET_KEY,
        "PASSWORD_PEPPER": TEST_PEPPER,
    }
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "app.cli", "serve", "--port", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: database unreachable at 127.0.0.1:1/nothing: ")
    assert "nobody" not in lines[0]  # the user (and any password) stays out of the message
    assert time.perf_counter() - started < 15
