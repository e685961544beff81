"""Where the browser tests find Chromium, how they start it, and what they serve."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from app.main import create_app
from app.services.context import ServiceContext
from tests.conftest import _wipe_database, base_settings
from tests.support.flows import verified_user
from tests.support.mail import Mailbox
from tests.support.server import Running, serving

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
# As the machine's probe runs it: no background traffic to Google's hosts.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip the calling test module, with the reason, where Chromium is absent."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium is not installed (looked for {CHROMIUM})", allow_module_level=True)


def html_page(html: str) -> FastAPI:
    """An app serving `html` at `/` (mount more on it as a test needs)."""
    page = FastAPI()
    page.add_api_route("/", lambda: HTMLResponse(html), methods=["GET"])
    return page


@dataclass
class Served:
    api: Running
    page_origin: str
    email: str  # a verified user's
    ctx: ServiceContext


@asynccontextmanager
async def page_and_api(database_url: str, page: FastAPI, **settings: Any) -> AsyncIterator[Served]:
    """`page` on a localhost origin and the API allowing that origin, with one verified
    user; the user's rows and store keys are removed afterwards."""
    async with serving(page) as page_server:
        page_origin = page_server.base_url.replace("127.0.0.1", "localhost")
        config = base_settings(
            database_url,
            FRONTEND_BASE_URL=page_origin,
            BACKEND_CORS_ORIGINS=page_origin,
            **settings,
        )
        mailbox = Mailbox()
        app = create_app(config, email_sender=mailbox)
        async with serving(app) as api:
            ctx = app.state.ctx
            try:
                email = await verified_user(api.client, mailbox, ctx.background)
                yield Served(api, page_origin, email, ctx)
            finally:
                await ctx.store.clear("")
                await _wipe_database(ctx)
