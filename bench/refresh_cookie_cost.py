"""What the cookie transport costs `POST /auth/refresh`, beside body mode, in one run.

    uv run python bench/refresh_cookie_cost.py

Two instances of the application in this process, one with
`REFRESH_TOKEN_TRANSPORT=body` (the token in the JSON body, both ways) and one
with `cookie` (the token in the HttpOnly cookie, read from an allowed
`Origin`, a new `Set-Cookie` on every answer, `{}` as the body), on one
database each (SQLite files by default, so neither pays for the other's WAL
checkpoints; BENCH_DATABASE_URL / BENCH_REDIS_URL for PostgreSQL and Redis,
one database given empty and throwaway). Each drives a chain of
refreshes of its own session through ASGI calls (no sockets): each request
presents the token the previous answer gave, and both send the SPA's
`Origin` (a cross-origin SPA's browser does, in either mode). Many short batches per mode,
alternating which goes first, so load on a shared machine falls on both alike.

Prints the median and the fastest batch's wall and CPU (`time.process_time`)
microseconds per refresh of each mode, and cookie / body as the median of
the rounds' own ratios (each round runs both modes back to back, so a burst
of load elsewhere lands on one round's pair rather than on one mode). The
target is cookie <= 1.05x body. Last, the CPU time of the cookie's own work
(read, checks, Set-Cookie) alone, which no noise moves.
Knobs: BENCH_ROUNDS (batches per mode, default 60), BENCH_REQUESTS (refreshes
per batch, default 20).
"""

from __future__ import annotations

import asyncio
import http.cookiejar
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
from starlette.requests import Request

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.api.refresh_cookie import CookiePolicy, RefreshCookie  # noqa: E402
from app.config import Settings  # noqa: E402
from app.database.migrations import upgrade  # noqa: E402
from app.main import create_app  # noqa: E402
from app.schemas.auth import TokenPair  # noqa: E402
from app.services.bootstrap import ensure_admin  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "60"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "20"))
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


class NoJar(http.cookiejar.CookieJar):
    """httpx keeps no cookies: the cookie-mode steps send theirs by hand, and a
    jar's parsing would bill this process's CPU to cookie mode."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def add_cookie_header(self, request: Any) -> None:
        return None


async def chain(client: httpx.AsyncClient, mode: str) -> Step:
    """One refresh of this mode's session, each presenting the token the last one gave."""
    login = await client.post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert login.status_code == 200, login.text
    cookie_name = "__Secure-refresh_token"
    state: dict[str, str] = {}
    if mode == "body":
        state["token"] = login.json()["refresh_token"]
    else:
        set_cookie = login.headers["set-cookie"]
        state["token"] = set_cookie.split(";", 1)[0].split("=", 1)[1]

    async def body_step() -> None:
        body = {"refresh_token": state["token"]}
        response = await client.post(REFRESH, json=body, headers={"Origin": SPA})
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


async def measure(database_urls: dict[str, str]) -> dict[str, list[tuple[float, float]]]:
    async with AsyncExitStack() as stack:
        steps: dict[str, Step] = {}
        contexts: list[Any] = []
        for mode in ("body", "cookie"):
            app = create_app(settings(database_urls[mode], mode))
            await stack.enter_async_context(app.router.lifespan_context(app))
            ctx: Any = app.state.ctx
            contexts.append(ctx)
            if mode == "body" or database_urls["cookie"] != database_urls["body"]:
                async with ctx.sessionmaker() as db:
                    await ensure_admin(db, ctx, email=EMAIL, password=PASSWORD, promote=True)
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=transport,
                    base_url="https://api.example.com",
                    cookies=httpx.Cookies(NoJar()),
                )
            )
            steps[mode] = await chain(client, mode)
        for step in steps.values():  # warm up both paths
            await step()
        results: dict[str, list[tuple[float, float]]] = {"body": [], "cookie": []}
        for round_ in range(ROUNDS):
            order = ("body", "cookie") if round_ % 2 == 0 else ("cookie", "body")
            for mode in order:
                results[mode].append(await batch(steps[mode]))
        for ctx in contexts:  # leave Redis as found: this run's key prefixes only
            await ctx.store.clear("")
    return results


def cookie_work_us(iterations: int = 20_000) -> float:
    """CPU microseconds of what cookie mode adds to one refresh, alone: read and
    check the cookie and the Origin, null the JSON token, build the Set-Cookie."""
    policy = CookiePolicy.of(settings("sqlite+aiosqlite://", "cookie"))
    assert policy is not None
    token = "kD8yq3Vv1x7Qm2fN0bT6sJ4hL9wE5rP8aZc1uG3iY0o"
    scope = {
        "type": "http",
        "headers": [
            (b"cookie", f"{policy.name}={token}".encode()),
            (b"origin", SPA.encode()),
        ],
    }
    pair = TokenPair(access_token="a", refresh_token=token, expires_in=1800)
    start = time.process_time()
    for _ in range(iterations):
        read = RefreshCookie(Request(scope), policy).token()
        pair.model_copy(update={"refresh_token": None})
        policy.set_header(read or "", 604_800)
    return (time.process_time() - start) / iterations * 1e6


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        shared = os.environ.get("BENCH_DATABASE_URL")
        urls = {
            mode: shared or f"sqlite+aiosqlite:///{tmp}/{mode}.db" for mode in ("body", "cookie")
        }
        for url in set(urls.values()):
            upgrade(settings(url, "body"))
        results = asyncio.run(measure(urls))
    print(f"POST /auth/refresh, {ROUNDS} batches x {REQUESTS} per mode, microseconds per request:")
    for mode in ("body", "cookie"):
        wall = [r[0] for r in results[mode]]
        cpu = [r[1] for r in results[mode]]
        print(
            f"  {mode:<7} wall median {statistics.median(wall):7.0f}  fastest {min(wall):7.0f}"
            f"   cpu median {statistics.median(cpu):7.0f}  fastest {min(cpu):7.0f}"
        )
    pairs = list(zip(results["body"], results["cookie"], strict=True))
    wall_ratio = statistics.median(c[0] / b[0] for b, c in pairs)
    cpu_ratio = statistics.median(c[1] / b[1] for b, c in pairs)
    print(
        f"  cookie / body (median of the rounds' ratios): wall {wall_ratio:.3f}x, "
        f"cpu {cpu_ratio:.3f}x (target <= 1.05x)"
    )
    print(f"  the cookie's own work, alone: {cookie_work_us():.1f} us of CPU per refresh")


if __name__ == "__main__":
    main()
