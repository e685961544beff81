"""CPU cost of the request paths in two versions of the code, measured in one run.

    uv run python bench/request_paths_ab.py [BASE_REF] [NEW_REF]

BASE_REF defaults to `main`, NEW_REF to the working tree. Each version's
`app/`, `alembic/` and `alembic.ini` are laid out in a temporary directory;
then rounds alternate between the two, each in a fresh process that drives
the application in-process (ASGI calls, no sockets, no HTTP client), so the
numbers are the application's own CPU time per request and the machine's
load hits both versions alike. Scenarios:

- `429 (cached path)`: a client over its budget, the same route again and again;
- `429 (new path each time)`: over budget, a route with a parameter, a new value
  each request (the worst case for naming the route of a refused request);
- `counted, allowed`: a request within the budget (401 without a token);
- `/health (exempt)` and `/health/ready`.

Knobs: BENCH_ROUNDS (default 5), BENCH_REQUESTS per scenario and round (2000).
Prints the median microseconds per request of each version and their ratio.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "2000"))
TREE = ("app", "alembic", "alembic.ini")


def lay_out(ref: str | None, into: Path) -> Path:
    """The code of `ref` (None: the working tree) under `into`."""
    into.mkdir(parents=True)
    if ref is None:
        subprocess.run(["cp", "-r", *TREE, str(into)], cwd=ROOT, check=True)  # noqa: S603, S607
    else:
        archive = subprocess.run(  # noqa: S603
            ["git", "archive", "--format=tar", ref, *TREE],  # noqa: S607
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)  # noqa: S603, S607
    return into


# --- worker: runs inside one version's directory -----------------------------


async def _call(app: Any, method: str, path: str, peer: str) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": (peer, 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _measure(
    app: Any, request: Callable[[int], tuple[str, str, str]], expected: int
) -> float:
    for i in range(50):  # warm up
        await _call(app, *request(i))
    start = time.perf_counter()
    for i in range(REQUESTS):
        status = await _call(app, *request(i))
        if status != expected:
            raise SystemExit(f"{request(i)} answered {status}, expected {expected}")
    return (time.perf_counter() - start) / REQUESTS * 1e6


async def _worker(directory: Path) -> dict[str, float]:
    sys.path.insert(0, str(directory))
    os.chdir(directory)
    from app.config import Settings
    from app.database.migrations import upgrade
    from app.main import create_app

    def settings(limit: int) -> Any:
        return Settings(
            _env_file=None,
            DATABASE_URL=f"sqlite+aiosqlite:///{directory}/bench.db",
            SECRET_KEY="bench-ab-secret-key-0123456789abcdef",
            PASSWORD_PEPPER="bench-ab-pepper-0123456789abcdef",
            RATE_LIMIT_PER_MINUTE=limit,
            LOG_LEVEL="WARNING",
            EMAIL_BACKEND="console",
        )

    await asyncio.to_thread(upgrade, settings(1))
    limited, open_ = create_app(settings(1)), create_app(settings(10**9))
    results: dict[str, float] = {}
    async with limited.router.lifespan_context(limited), open_.router.lifespan_context(open_):
        await _call(limited, "GET", "/api/v1/users/profile", "192.0.2.1")  # spends the budget
        results["429 (cached path)"] = await _measure(
            limited, lambda i: ("GET", "/api/v1/users/profile", "192.0.2.1"), 429
        )
        ids = [str(uuid.uuid4()) for _ in range(REQUESTS + 50)]
        results["429 (new path each time)"] = await _measure(
            limited, lambda i: ("DELETE", f"/api/v1/users/sessions/{ids[i]}", "192.0.2.1"), 429
        )
        results["counted, allowed"] = await _measure(
            open_, lambda i: ("GET", "/api/v1/users/profile", "192.0.2.2"), 401
        )
        results["/health (exempt)"] = await _measure(
            open_, lambda i: ("GET", "/health", "192.0.2.2"), 200
        )
        results["/health/ready"] = await _measure(
            open_, lambda i: ("GET", "/health/ready", "192.0.2.2"), 200
        )
    return results


# --- parent -------------------------------------------------------------------


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(asyncio.run(_worker(Path(sys.argv[2])))))
        return
    base_ref = sys.argv[1] if len(sys.argv) > 1 else "main"
    new_ref = sys.argv[2] if len(sys.argv) > 2 else None
    workdir = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    versions = {
        base_ref: lay_out(base_ref, workdir / "base"),
        new_ref or "working tree": lay_out(new_ref, workdir / "new"),
    }
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in versions}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    print(f"{ROUNDS} rounds x {REQUESTS} requests per scenario, versions alternating", flush=True)
    for round_ in range(ROUNDS):
        # Alternate which version goes first, so neither always meets the same load.
        order = list(versions.items())[:: 1 if round_ % 2 == 0 else -1]
        for name, directory in order:
            for stale in directory.glob("bench.db*"):
                stale.unlink()
            out = subprocess.run(  # noqa: S603
                [sys.executable, __file__, "--worker", str(directory)],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            for scenario, micros in json.loads(out.strip().splitlines()[-1]).items():
                samples[name].setdefault(scenario, []).append(micros)
        print(f"  round {round_ + 1} done", flush=True)
    base, new = versions
    print(f"\n{'scenario (µs/request, median)':32} {base:>14} {new:>14} {'new/base':>9}")
    for scenario in samples[new]:
        after = statistics.median(samples[new][scenario])
        before_samples = samples[base].get(scenario)
        if before_samples is None:
            print(f"{scenario:32} {'-':>14} {after:14.1f}")
            continue
        before = statistics.median(before_samples)
        print(f"{scenario:32} {before:14.1f} {after:14.1f} {after / before:9.2f}")


if __name__ == "__main__":
    main()
