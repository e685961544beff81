"""What the cookie transport costs `POST /auth/refresh`, beside body mode, in one run.

    uv run python bench/refresh_cookie_cost.py

Two instances of the application in this process, one with
`REFRESH_TOKEN_TRANSPORT=body` (the token in the JSON body, both ways) and one
with `cookie` (the token in the HttpOnly cookie, read from an allowed
`Origin`, a new `Set-Cookie` on every answer, `{}` as the body), on one
database (SQLite file by default; BENCH_DATABASE_URL / BENCH_REDIS_URL for
PostgreSQL and Redis, given empty and throwaway). Each drives a chain of
refreshes of its own session through ASGI calls (no sockets): each request
presents the token the previous answer gave. Many short batches per mode,
alternating which goes first, so load on a shared machine falls on both alike.

Prints the median wall and CPU (`time.process_time`) microseconds per refresh
of each mode, and cookie / body. The target is cookie <= 1.05x body.
Knobs: BENCH_ROUNDS (batches per mode, default 20), BENCH_REQUESTS (refreshes
per batch, default 50).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import Settings  # noqa: E402
from app.database.migrations import upgrade  # noqa: E402
from app.main import create_app  # noqa: E402
from app.services.bootstrap import ensure_admin  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "50"))
SPA = "https://app.example.com"
EMAIL = "bench-cookie@example.com"
PASSWORD = "correct horse battery staple"
REFRESH = "/api/v1/auth/refresh"


def settings(database_url: str, mode: str) -> Settings:
    return Settings(
        _env_file=None,
        DATABASE_URL=database_url,
        REDIS_URL=os.environ.get("BENCH_REDIS_URL") or None,
        REDIS_KEY_PREFIX=f"bench-cookie-{mode}",
        SECRET_KEY="bench-secret-key-0123456789abcdef-0123456789",  # noqa: S106 (not a secret)
        PASSWORD_PEPPER="bench-pepper-0123456789abcdef-0123456789",  # noqa: S106
        BCRYPT_ROUNDS=4,
        RATE_LIMIT_PER_MINUTE=10_000_000,
        AUTH_RATE_LIMIT_PER_MINUTE=10_000_000,
        LOG_LEVEL="ERROR",
        PASSWORD_BREACH_CHECK=False,
        BACKEND_BASE_URL="https://api.example.com",
        BACKEND_CORS_ORIGINS=[SPA],
        REFRESH_TOKEN_TRANSPORT=mode,
    )


Step = Callable[[], Awaitable[None]]


async def chain(client: httpx.AsyncClient, mode: str) -> Step:
    """One refresh of this mode's session, each presenting the token the last one gave."""
    login = await client.post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert login.status_code == 200, login.text
    cookie_name = "__Secure-refresh_token"
    state: dict[str, str] = {}
    if mode == "body":
        state["token"] = login.json()["refresh_token"]
    else:
        state["token"] = login.cookies[cookie_name]

    async def body_step() -> None:
        response = await client.post(REFRESH, json={"refresh_token": state["token"]})
        assert response.status_code == 200, response.text
        state["token"] = response.json()["refresh_token"]

    async def cookie_step() -> None:
        headers = {"Cookie": f"{cookie_name}={state['token']}", "Origin": SPA}
        response = await client.post(REFRESH, json={}, headers=headers)
        assert response.status_code == 200, response.text
        set_cookie = response.headers["set-cookie"]
        state["token"] = set_cookie.split(";", 1)[0].split("=", 1)[1]

    return body_step if mode == "body" else cookie_step


async def batch(step: Step) -> tuple[float, float]:
    """Microseconds per request: wall, CPU."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(REQUESTS):
        await step()
    return (
        (time.perf_counter() - wall) / REQUESTS * 1e6,
        (time.process_time() - cpu) / REQUESTS * 1e6,
    )


async def measure(database_url: str) -> dict[str, list[tuple[float, float]]]:
    async with AsyncExitStack() as stack:
        steps: dict[str, Step] = {}
        for mode in ("body", "cookie"):
            app = create_app(settings(database_url, mode))
            await stack.enter_async_context(app.router.lifespan_context(app))
            ctx: Any = app.state.ctx
            if mode == "body":
                async with ctx.sessionmaker() as db:
                    await ensure_admin(db, ctx, email=EMAIL, password=PASSWORD, promote=True)
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="https://api.example.com")
            )
            steps[mode] = await chain(client, mode)
        for step in steps.values():  # warm up both paths
            await step()
        results: dict[str, list[tuple[float, float]]] = {"body": [], "cookie": []}
        for round_ in range(ROUNDS):
            order = ("body", "cookie") if round_ % 2 == 0 else ("cookie", "body")
            for mode in order:
                results[mode].append(await batch(steps[mode]))
    return results


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp}/b.db"
        upgrade(settings(database_url, "body"))
        results = asyncio.run(measure(database_url))
    wall = {mode: statistics.median(r[0] for r in runs) for mode, runs in results.items()}
    cpu = {mode: statistics.median(r[1] for r in runs) for mode, runs in results.items()}
    print(f"POST /auth/refresh, {ROUNDS} batches x {REQUESTS} per mode, medians per request:")
    for mode in ("body", "cookie"):
        print(f"  {mode:<7} wall {wall[mode]:8.0f} us   cpu {cpu[mode]:8.0f} us")
    print(
        f"  cookie / body: wall {wall['cookie'] / wall['body']:.3f}x, "
        f"cpu {cpu['cookie'] / cpu['body']:.3f}x (target <= 1.05x)"
    )


if __name__ == "__main__":
    main()
