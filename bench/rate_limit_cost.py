"""What the rate limiter costs: the service with and without it, in one run.

    uv run python bench/rate_limit_cost.py

Serves the application twice with the same uvicorn flags, once as built and
once with the rate-limit middleware left out, and drives both, interleaved,
on `GET /health` (exempt: the limiter only recognises it) and on the
authenticated `GET /api/v1/users/profile` (counted against the global
budget). Same environment knobs as bench/run.py; BENCH_REDIS_URL puts the
budget in Redis.
"""

from __future__ import annotations

import sys
import tempfile
from functools import partial
from pathlib import Path

from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import Target, have_wrk  # noqa: E402
from bench.run import (  # noqa: E402
    DURATION,
    ROUNDS,
    free_port,
    interleave,
    login_pair,
    measure,
    mode_name,
    service_env,
    uvicorn_server,
)


def app_without_rate_limit() -> FastAPI:
    """The service with the rate-limit layer replaced by a pass-through."""
    import app.main

    app.main.RateLimitMiddleware = lambda inner, **_: inner  # type: ignore[attr-defined,assignment]
    return app.main.create_app()


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    env = service_env(workdir)
    on_port, off_port = free_port(), free_port()
    on, off = f"http://127.0.0.1:{on_port}", f"http://127.0.0.1:{off_port}"
    print(
        f"mode: {mode_name(env)}; load generator: {'wrk' if have_wrk() else 'asyncio client'}; "
        f"{ROUNDS} rounds x {DURATION:g}s",
        flush=True,
    )
    with (
        uvicorn_server("app.main:create_app", env, workdir / "on.log", on_port),
        uvicorn_server(
            "bench.rate_limit_cost:app_without_rate_limit", env, workdir / "off.log", off_port
        ),
    ):
        access = login_pair(on)["access_token"]
        paths = {"/health": "/health", "GET /users/profile": "/api/v1/users/profile"}
        results = interleave(
            {
                f"{route} {label}": partial(
                    measure, Target(f"{base}{path}", token=access), workdir=workdir
                )
                for route, path in paths.items()
                for label, base in (("with limiter", on), ("without limiter", off))
            }
        )
    print(f"\n{'scenario':36} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, result in results.items():
        print(
            f"{name:36} {result.rps:9.1f} {result.p50_ms:8.2f} {result.p99_ms:8.2f} "
            f"{result.errors:7d}"
        )
    print()
    for route in paths:
        with_it = results[f"{route} with limiter"].rps
        without = results[f"{route} without limiter"].rps
        cost_us = (1 / with_it - 1 / without) * 1e6
        print(f"{route}: {with_it / without:.2f} x without the limiter ({cost_us:+.0f} µs/request)")


if __name__ == "__main__":
    main()
