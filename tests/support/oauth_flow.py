"""A browser-like walk through social login: the app, the provider, back, the frontend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlmodel import col, select

from app.models import AuditLog
from tests.conftest import Harness, HarnessFactory
from tests.support.clock import FakeClock
from tests.support.oauth_provider import SETTINGS, FakeProvider

OAUTH = "/api/v1/oauth"
FRONTEND = "http://frontend.test"


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


class Browser:
    """Follows the redirects a real browser would, keeping the app's cookies in `client`."""

    def __init__(self, client: httpx.AsyncClient, provider: FakeProvider) -> None:
        self.client = client
        self.provider = provider
        self.provider_client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=provider.app), base_url="http://provider.test"
        )

    async def initiate(self, name: str, redirect_to: str | None = None) -> httpx.Response:
        params = {"redirect_to": redirect_to} if redirect_to is not None else {}
        return await self.client.get(f"{OAUTH}/{name}/initiate", params=params)

    async def authorize(self, name: str, redirect_to: str | None = None) -> str:
        """Initiate and sign in at the provider; return the callback URL it sends us to."""
        response = await self.initiate(name, redirect_to)
        assert response.status_code == 302, response.text
        page = await self.provider_client.get(response.headers["location"])
        assert page.status_code == 302, page.text
        return page.headers["location"]

    async def callback(self, url: str) -> str:
        """Visit the app's callback; return where it sends the browser (the frontend)."""
        response = await self.client.get(url)
        assert response.status_code == 302, response.text
        location = response.headers["location"]
        assert urlsplit(location).hostname == urlsplit(FRONTEND).hostname, location
        return location

    async def sign_in(self, name: str, redirect_to: str | None = None) -> str:
        """The whole round trip; return the frontend URL the flow ends on."""
        return await self.callback(await self.authorize(name, redirect_to))

    async def exchange(self, code: str) -> httpx.Response:
        return await self.client.post(f"{OAUTH}/exchange", json={"code": code})

    async def tokens(self, name: str) -> dict[str, Any]:
        """Sign in and exchange the code; return the token pair."""
        landing = query(await self.sign_in(name))
        assert "code" in landing, landing
        response = await self.exchange(landing["code"])
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def aclose(self) -> None:
        await self.provider_client.aclose()


@dataclass
class OAuthSetup:
    harness: Harness
    provider: FakeProvider
    browser: Browser

    def other_browser(self) -> Browser:
        browser = Browser(self.harness.new_client(), self.provider)
        self.harness.extra_clients.append(browser.provider_client)
        return browser

    async def audit(self, event: str | None = None) -> list[AuditLog]:
        async with self.harness.ctx.sessionmaker() as db:
            statement = select(AuditLog).order_by(col(AuditLog.created_at))
            if event is not None:
                statement = statement.where(AuditLog.event == event)
            return list((await db.exec(statement)).all())


async def start(make_harness: HarnessFactory, **overrides: Any) -> OAuthSetup:
    """An app whose providers are the local fake, and a browser to drive it."""
    clock = FakeClock()
    provider = FakeProvider(now=lambda: clock.now().timestamp())
    provider.as_google("google-sub-1", "ada@example.com")
    provider.as_github(4242, "ada@example.com")
    harness = await make_harness(
        clock=clock, app_kwargs={"http_transport": provider.transport}, **{**SETTINGS, **overrides}
    )
    browser = Browser(harness.client, provider)
    harness.extra_clients.append(browser.provider_client)
    return OAuthSetup(harness, provider, browser)
