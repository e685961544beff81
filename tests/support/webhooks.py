"""Helpers for webhook tests: an admin, an endpoint on a receiver, waiting for deliveries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from tests.conftest import Harness
from tests.support.flows import API, bearer

HOOKS = f"{API}/admin/webhooks"


async def admin_headers(harness: Harness) -> dict[str, str]:
    """A new admin's bearer header. The clock then moves on a second, so the admin's
    own audit events predate (and are not sent to) endpoints created next."""
    _, tokens = await harness.admin()
    harness.clock.advance(seconds=1)
    return bearer(tokens["access_token"])


async def create_endpoint(
    harness: Harness, headers: dict[str, str], url: str, events: list[str] | None = None
) -> dict[str, Any]:
    response = await harness.client.post(
        HOOKS, json={"url": url, "events": events or ["*"]}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def until(condition: Callable[[], bool], *, within: float = 5.0) -> None:
    """Wait (polling) until `condition()` holds; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
