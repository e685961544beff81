"""Browser sessions (SPEC §7.6) in a real browser: headless Chromium, two tabs of one
SPA page that loads the built TypeScript package (`clients/typescript/dist`), and
the service in `cookie` mode under a real uvicorn server on another origin of
the same site (localhost, another port).

The tabs refresh at the same moment, again and again: the Web Lock lets one
refresh run at a time and the others take its result, so no refresh token is
ever presented twice (no reuse detection, the session lives). Logging out in
one tab ends the other. Skipped where Chromium, the Python Playwright package
or the built package (`npm ci && npm run build` in clients/typescript) is
missing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlmodel import select

from app.models import AuditLog, UserSession
from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    html_page,
    page_and_api,
    require_chromium,
)
from tests.support.flows import PASSWORD
from tests.support.server import Running

playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
require_chromium()
PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "typescript"
FETCH_LIB = PACKAGE / "node_modules" / "openapi-fetch" / "dist"
if not (PACKAGE / "dist" / "index.js").exists() or not FETCH_LIB.exists():
    pytest.skip(
        "the TypeScript client is not built (npm ci && npm run build in clients/typescript)",
        allow_module_level=True,
    )


# The SPA: the package as built, `openapi-fetch` resolved by an import map (as a
# bundler would), the service's origin from the query string.
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>Browser sessions</title>
<script type="importmap">{"imports": {"openapi-fetch": "/lib/openapi-fetch/index.mjs"}}</script>
<script type="module">
import { createAuthClient } from "/lib/client/index.js";
const auth = createAuthClient({ baseUrl: new URLSearchParams(location.search).get("api") });
window.auth = auth;
window.profileStatus = async () => (await auth.api.GET("/api/v1/users/profile")).response.status;
window.ready = true;
</script>
"""


def page_app() -> FastAPI:
    page = html_page(PAGE)
    page.mount("/lib/client", StaticFiles(directory=PACKAGE / "dist"))
    page.mount("/lib/openapi-fetch", StaticFiles(directory=FETCH_LIB))
    return page


@dataclass
class Stack:
    api: Running
    api_origin: str
    page_origin: str
    email: str
    ctx: Any

    async def rows(self, model: Any, *where: Any) -> list[Any]:
        async with self.ctx.sessionmaker() as db:
            return list((await db.exec(select(model).where(*where))).all())


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with page_and_api(database_url, page_app(), REFRESH_TOKEN_TRANSPORT="cookie") as served:
        api_origin = served.api.base_url.replace("127.0.0.1", "localhost")
        yield Stack(served.api, api_origin, served.page_origin, served.email, served.ctx)


async def test_two_tabs_share_one_session_and_never_trip_reuse_detection(stack: Stack) -> None:
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context()  # one browser profile: one cookie jar
            url = f"{stack.page_origin}/?api={stack.api_origin}"
            one, two = await context.new_page(), await context.new_page()
            for tab in (one, two):
                await tab.goto(url)
                await tab.wait_for_function("window.ready === true")

            signed_in = await one.evaluate(
                "([email, password]) => auth.login({ email, password })", [stack.email, PASSWORD]
            )
            assert signed_in == {"status": "signed_in"}
            # The other tab has the access token too (BroadcastChannel), in memory only.
            await two.wait_for_function("auth.accessToken() !== null")
            (cookie,) = [c for c in await context.cookies() if c["name"] == "refresh_token"]
            assert cookie["httpOnly"] is True
            assert cookie["sameSite"] == "Strict"
            assert cookie["path"] == "/api/v1/auth"
            for tab in (one, two):  # not readable by the page's script
                assert "refresh_token" not in await tab.evaluate("document.cookie")
                assert await tab.evaluate("localStorage.length + sessionStorage.length") == 0

            # Both tabs refresh at once, several times each, round after round.
            burst = "Promise.all([auth.refresh(), auth.refresh(), auth.refresh()])"
            for _ in range(4):
                results = await asyncio.gather(one.evaluate(burst), two.evaluate(burst))
                tokens = [token for batch in results for token in batch]
                assert all(isinstance(token, str) and token for token in tokens), tokens
            assert await stack.rows(AuditLog, AuditLog.event == "refresh_token_reuse") == []
            refreshed = await stack.rows(AuditLog, AuditLog.event == "token_refreshed")
            assert 4 <= len(refreshed) <= 8 * 3, len(refreshed)
            (session,) = await stack.rows(UserSession)
            assert session.revoked_at is None
            # Each tab's token works (the last one of either tab is current).
            assert await one.evaluate("profileStatus()") == 200
            assert await two.evaluate("profileStatus()") == 200

            await one.evaluate("auth.logout()")
            await two.wait_for_function("auth.accessToken() === null")
            assert await two.evaluate("auth.refresh()") is None
            assert await two.evaluate("profileStatus()") == 401
            assert [c for c in await context.cookies() if c["name"] == "refresh_token"] == []
            (session,) = await stack.rows(UserSession)
            assert session.revoked_at is not None
            assert len(await stack.rows(AuditLog, AuditLog.event == "logout")) == 1
        finally:
            await browser.close()
