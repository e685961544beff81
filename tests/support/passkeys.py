"""Passkey ceremonies through the public HTTP API, with a software authenticator."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.authenticator import Authenticator
from tests.support.flows import API, bearer

USERS = f"{API}/users/passkeys"
LOGIN = f"{API}/auth/passkeys/login"


async def registration_options(client: httpx.AsyncClient, access: str) -> dict[str, Any]:
    response = await client.post(f"{USERS}/register/options", headers=bearer(access))
    assert response.status_code == 200, response.text
    options: dict[str, Any] = response.json()
    return options


async def register(
    client: httpx.AsyncClient,
    access: str,
    authenticator: Authenticator,
    *,
    name: str | None = None,
    **tweaks: Any,
) -> httpx.Response:
    """Both registration calls; the authenticator answers with `tweaks` applied."""
    options = await registration_options(client, access)
    body: dict[str, Any] = {"credential": authenticator.register(options, **tweaks)}
    if name is not None:
        body["name"] = name
    return await client.post(f"{USERS}/register/verify", json=body, headers=bearer(access))


async def added(
    client: httpx.AsyncClient, access: str, authenticator: Authenticator
) -> dict[str, Any]:
    """Register a passkey that must be accepted; its PasskeyOut."""
    response = await register(client, access, authenticator)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def login_options(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post(f"{LOGIN}/options")
    assert response.status_code == 200, response.text
    options: dict[str, Any] = response.json()
    return options


async def sign_in(
    client: httpx.AsyncClient, authenticator: Authenticator, **tweaks: Any
) -> httpx.Response:
    """Both sign-in calls; the authenticator answers with `tweaks` applied."""
    options = await login_options(client)
    credential = authenticator.sign_in(options, **tweaks)
    return await client.post(f"{LOGIN}/verify", json={"credential": credential})
