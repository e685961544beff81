"""Common steps through the public HTTP API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from app.core.background import BackgroundRunner
from tests.support.mail import Mailbox

PASSWORD = "correct horse battery staple"
API = "/api/v1"
JSON = {"Content-Type": "application/json"}


def new_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(
    client: httpx.AsyncClient,
    email: str | None = None,
    password: str = PASSWORD,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    body = {"email": email or new_email(), "password": password, **extra}
    return await client.post(f"{API}/auth/register", json=body, headers=headers)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post(f"{API}/auth/login", json={"email": email, "password": password})


async def verified_user(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    background: BackgroundRunner,
    email: str | None = None,
    password: str = PASSWORD,
) -> str:
    """Register and verify through the API; return the email."""
    email = email or new_email()
    response = await register(client, email, password)
    assert response.status_code == 201, response.text
    await background.join()
    token = mailbox.token(email, "/verify-email")
    response = await client.post(f"{API}/auth/verify-email", json={"token": token})
    assert response.status_code == 200, response.text
    return email


async def tokens(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await login(client, email, password)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
