"""/docs and /redoc in headless Chromium with no internet: no CSP violation, no outside
request, and Swagger UI's Authorize + "Try it out" work end to end.

Runs where Chromium is installed (skipped otherwise, with the reason); the
Python Playwright package is a dev dependency, and drives the system's
Chromium (Playwright's own browser downloads are not used). To run it:

    apt-get install -y chromium
    uv run pytest tests/browser -q

`scripts/check-docs-browser.sh` does the same. Set CHROMIUM_PATH for another binary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.main import create_app
from app.services.bootstrap import ensure_admin
from tests.conftest import base_settings
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium
from tests.support.flows import PASSWORD, new_email
from tests.support.mail import Mailbox
from tests.support.server import Running, serving

playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
require_chromium()

# Pages are opened under a public-looking name, not localhost: Swagger UI, for
# one, calls out to its online validator only for documents off localhost.
HOST = "docs.test"
# Reported by the page itself for every blocked script, style, image, worker or fetch.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


class Watch:
    """What the browser did that it should not have."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.outside: list[str] = []
        self.console: list[str] = []
        self.failed: list[str] = []

    async def route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or url.startswith(self.origin):
            await route.continue_()
        else:  # there is no internet; record the attempt and refuse it
            self.outside.append(url)
            await route.abort()

    def on_console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.console.append(text)

    def on_response(self, response: Any) -> None:
        if response.status >= 400 and urlsplit(response.url).path != "/api/v1/users/profile":
            self.failed.append(f"{response.status} {response.url}")


@pytest.fixture
async def running(database_url: str) -> AsyncIterator[tuple[Running, str]]:
    app = create_app(base_settings(database_url), email_sender=Mailbox())
    async with serving(app) as server:
        email = new_email("docs")
        async with app.state.ctx.sessionmaker() as db:
            await ensure_admin(db, app.state.ctx, email=email, password=PASSWORD, promote=True)
        yield server, email


@pytest.fixture
async def page(running: tuple[Running, str]) -> AsyncIterator[tuple[Any, Watch]]:
    server, _ = running
    async with playwright_api.async_playwright() as p:
        port = server.base_url.rsplit(":", 1)[1]
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {HOST} 127.0.0.1"],
        )
        context = await browser.new_context(base_url=f"http://{HOST}:{port}")
        watch = Watch(f"http://{HOST}:{port}")
        await context.route("**/*", watch.route)
        await context.add_init_script(WATCH_CSP)
        page = await context.new_page()
        page.on("console", watch.on_console)
        page.on("response", watch.on_response)
        try:
            yield page, watch
        finally:
            await browser.close()


async def assert_clean(page: Any, watch: Watch) -> None:
    violations = await page.evaluate("window.__csp")
    assert violations == [], violations
    assert watch.console == [], watch.console
    assert watch.outside == [], watch.outside
    assert watch.failed == [], watch.failed


async def test_swagger_ui_authorize_then_try_it_out(
    running: tuple[Running, str], page: tuple[Any, Watch]
) -> None:
    server, email = running
    browser_page, watch = page
    await browser_page.goto("/docs")
    await browser_page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)

    # Authorize: the OAuth2 password flow, which posts to /api/v1/auth/token.
    await browser_page.click("button.authorize")
    await browser_page.fill("#oauth_username", email)
    await browser_page.fill("#oauth_password", PASSWORD)
    async with browser_page.expect_response("**/api/v1/auth/token") as token_response:
        await browser_page.click(".auth-btn-wrapper button.authorize")
    assert (await token_response.value).status == 200
    await browser_page.wait_for_selector(".auth-btn-wrapper button.btn-done", timeout=10_000)
    await browser_page.click(".auth-btn-wrapper button.btn-done")  # close the dialog

    # Try it out: GET /api/v1/users/profile with the token Swagger UI now holds.
    operation = "#operations-users-users-get_profile"
    await browser_page.click(f"{operation} .opblock-summary")
    await browser_page.click(f"{operation} .try-out__btn")
    async with browser_page.expect_response("**/api/v1/users/profile") as profile_response:
        await browser_page.click(f"{operation} .execute")
    profile = await profile_response.value
    assert profile.status == 200
    assert (await profile.json())["email"] == email
    status = browser_page.locator(
        f"{operation} .live-responses-table tbody .response .response-col_status"
    )
    await status.first.wait_for(timeout=10_000)
    assert (await status.first.inner_text()).strip().startswith("200")
    await assert_clean(browser_page, watch)


async def test_redoc_renders_offline(running: tuple[Running, str], page: tuple[Any, Watch]) -> None:
    server, _ = running
    browser_page, watch = page
    await browser_page.goto("/redoc")
    await browser_page.wait_for_selector(".api-content h1", timeout=30_000)
    assert "Auth backend" in await browser_page.inner_text(".api-content h1")
    # The operations are there, and the search box (ReDoc's blob: worker) answers.
    login = browser_page.locator('[data-section-id="operation/auth-login"] h2')
    await login.wait_for(timeout=10_000)
    assert "Log in with email and password" in await login.inner_text()
    search = browser_page.locator('input[placeholder="Search..."]')
    await search.fill("profile")
    await browser_page.wait_for_selector('[role="search"] li, .search-results li', timeout=10_000)
    await browser_page.wait_for_load_state("networkidle")
    await assert_clean(browser_page, watch)
