"""A browser going through a social login: our initiate, the provider, our callback."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import Harness
from tests.support.flows import API
from tests.support.oauth_provider import FakeProvider


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def initiate(
    harness: Harness, name: str, client: httpx.AsyncClient | None = None, **params: str
) -> httpx.Response:
    client = client or harness.client
    return await client.get(f"{API}/oauth/{name}/initiate", params=params)


async def through_provider(provider: FakeProvider, authorize_url: str) -> str:
    """The browser at the provider: sign in, consent, come back with a code."""
    async with httpx.AsyncClient(transport=provider.transport()) as browser:
        response = await browser.get(authorize_url)
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def callback(harness: Harness, url: str, client: httpx.AsyncClient | None = None) -> str:
    """Hit our callback as the browser; return where it redirects."""
    client = client or harness.client
    parts = urlsplit(url)
    response = await client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def sign_in(
    harness: Harness, provider: FakeProvider, name: str, client: httpx.AsyncClient | None = None
) -> dict[str, str]:
    """The whole browser dance; returns the final redirect's query."""
    started = await initiate(harness, name, client)
    assert started.status_code == 302, started.text
    back = await through_provider(provider, started.headers["location"])
    return query(await callback(harness, back, client))
