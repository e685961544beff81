from __future__ import annotations

import asyncio

from tests.conftest import Harness
from tests.support.flows import API


async def test_concurrent_refresh_chains_never_collide(harness: Harness) -> None:
    """Several devices rotating their own tokens at once never trip reuse detection."""
    email = await harness.user()
    seeds = [(await harness.login(email))["refresh_token"] for _ in range(6)]

    async def chain(token: str) -> list[int]:
        statuses = []
        for _ in range(25):
            response = await harness.client.post(
                f"{API}/auth/refresh", json={"refresh_token": token}
            )
            statuses.append(response.status_code)
            if response.status_code != 200:
                break
            token = response.json()["refresh_token"]
        return statuses

    results = await asyncio.gather(*(chain(seed) for seed in seeds))
    assert all(status == 200 for statuses in results for status in statuses), results
