"""Peak database connections in use while a burst of logins waits for bcrypt.

    uv run python bench/login_pool.py

Builds the app in this process (PostgreSQL when BENCH_DATABASE_URL is set, else
a SQLite file; the store in memory), seeds one verified user, then sends
BENCH_LOGINS (64) logins at once through an in-process ASGI client and records
the connection pool's checked-out count (pool `checkout` / `checkin` events:
the peak, and samples every 50 ms over the burst), the answers' statuses and
the wall time. The very first moment always peaks (64 reads arrive at once);
what matters is how many connections stay checked out while the logins queue
for bcrypt, and whether any login times out waiting for one (503). bcrypt runs at
BCRYPT_ROUNDS (12) on the hasher's threads, so most logins spend most of
their time waiting for a hashing thread: a login that held its connection
meanwhile would hold the pool with it (PostgreSQL's pool is 10 + 10 overflow,
10 s timeout). The service reads the user, ends the read transaction, hashes,
then writes, so the peak stays near the number of logins writing at a time.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import Settings  # noqa: E402
from app.database.migrations import upgrade  # noqa: E402
from app.main import create_app  # noqa: E402
from app.services.bootstrap import ensure_admin  # noqa: E402

LOGINS = int(os.environ.get("BENCH_LOGINS", "64"))
BCRYPT_ROUNDS = int(os.environ.get("BCRYPT_ROUNDS", "12"))
EMAIL = "pool@example.com"
PASSWORD = "bench passphrase 1"


def bench_settings() -> Settings:
    workdir = Path(tempfile.mkdtemp(prefix="bench-pool-"))
    database_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{workdir}/b.db"
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        DATABASE_URL=database_url,
        REDIS_URL=None,
        SECRET_KEY=secrets.token_urlsafe(48),
        PASSWORD_PEPPER=secrets.token_urlsafe(48),
        BCRYPT_ROUNDS=BCRYPT_ROUNDS,
        RATE_LIMIT_PER_MINUTE=1_000_000,
        AUTH_RATE_LIMIT_PER_MINUTE=1_000_000,
        EMAIL_BACKEND="console",
        LOG_LEVEL="WARNING",
        PASSWORD_BREACH_CHECK=False,
    )


async def main(settings: Settings) -> None:
    database_url = settings.database_url
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ctx: Any = app.state.ctx
        async with ctx.sessionmaker() as db:
            await ensure_admin(db, ctx, email=EMAIL, password=PASSWORD, promote=True)
        pool = ctx.sessionmaker.kw["bind"].sync_engine.pool
        in_use = peak = 0

        def checkout(*_: object) -> None:
            nonlocal in_use, peak
            in_use += 1
            peak = max(peak, in_use)

        def checkin(*_: object) -> None:
            nonlocal in_use
            in_use -= 1

        event.listen(pool, "checkout", checkout)
        event.listen(pool, "checkin", checkin)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            body = {"email": EMAIL, "password": PASSWORD}
            samples: list[int] = []

            async def sample() -> None:
                while True:
                    samples.append(in_use)
                    await asyncio.sleep(0.05)

            sampler = asyncio.create_task(sample())
            started = time.perf_counter()
            answers = await asyncio.gather(
                *(client.post("/api/v1/auth/login", json=body) for _ in range(LOGINS))
            )
            elapsed = time.perf_counter() - started
            sampler.cancel()
        statuses = Counter(answer.status_code for answer in answers)
        backend = "postgresql" if "postgresql" in database_url else "sqlite"
        print(
            f"{backend}: {LOGINS} concurrent logins at bcrypt cost {BCRYPT_ROUNDS}: "
            f"peak connections in use {peak}; over the run (sampled every 50 ms) "
            f"median {statistics.median(samples):g}, mean {statistics.fmean(samples):.1f}, "
            f"peak after the first second {max(samples[20:], default=0)}; "
            f"statuses {dict(sorted(statuses.items()))}; {elapsed:.1f} s"
        )


if __name__ == "__main__":
    settings = bench_settings()
    upgrade(settings)
    asyncio.run(main(settings))
