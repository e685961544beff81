"""CPU cost of the request paths in two versions of the code, measured in one run.

    uv run python bench/request_paths_ab.py [BASE_REF] [NEW_REF]

BASE_REF defaults to `main`, NEW_REF to the working tree. Each version's
`app/`, `alembic/` and `alembic.ini` are laid out in a temporary directory and
served by a worker process of its own, which drives the application
in-process (ASGI calls: no sockets, no HTTP client) and reports the CPU time
(`time.process_time`, all its threads) per request. The parent asks the two
workers in turn, many short batches per scenario, alternating which goes
first, so load on a shared machine falls on both versions alike. Scenarios:

- `429 (cached path)`: a client over its budget, the same route again and again;
- `429 (new path each time)`: over budget, a route with a parameter, a new value
  each request (the worst case for naming the route of a refused request);
- `counted, allowed`: a request within the budget (401 without a token);
- `/health (exempt)` and `/health/ready`.

Knobs: BENCH_ROUNDS (batches per scenario and version, default 20) and
BENCH_REQUESTS (requests per batch, default 500). Prints the median CPU
microseconds per request of each version and their ratio.
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
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "500"))
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
    for i in range(20):  # warm up (caches, lazily built tables)
        await _call(app, *request(i))
    start = time.process_time()
    for i in range(REQUESTS):
        status = await _call(app, *request(i))
        if status != expected:
            raise SystemExit(f"{request(i)} answered {status}, expected {expected}")
    return (time.process_time() - start) / REQUESTS * 1e6


async def _worker(directory: Path) -> None:
    """Set up this version's apps, then measure whatever scenario stdin names."""
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
    over = "192.0.2.1"  # spends the limited app's budget of one with its first request
    serial = iter(range(10**12))
    scenarios: dict[str, tuple[Any, Callable[[int], tuple[str, str, str]], int]] = {
        "429 (cached path)": (limited, lambda i: ("GET", "/api/v1/users/profile", over), 429),
        "429 (new path each time)": (
            limited,
            lambda i: ("DELETE", f"/api/v1/users/sessions/{uuid.UUID(int=next(serial))}", over),
            429,
        ),
        "counted, allowed": (open_, lambda i: ("GET", "/api/v1/users/profile", "192.0.2.2"), 401),
        "/health (exempt)": (open_, lambda i: ("GET", "/health", "192.0.2.2"), 200),
        "/health/ready": (open_, lambda i: ("GET", "/health/ready", "192.0.2.2"), 200),
    }
    async with limited.router.lifespan_context(limited), open_.router.lifespan_context(open_):
        await _call(limited, "GET", "/api/v1/users/profile", over)
        print(json.dumps(list(scenarios)), flush=True)
        while line := await asyncio.to_thread(sys.stdin.readline):
            print(json.dumps(await _measure(*scenarios[line.strip()])), flush=True)


# --- parent -------------------------------------------------------------------


class Worker:
    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, __file__, "--worker", str(directory)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.scenarios: list[str] = json.loads(self._line())

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit("a worker stopped; see its error above")
        return line

    def measure(self, scenario: str) -> float:
        assert self.process.stdin is not None
        self.process.stdin.write(scenario + "\n")
        self.process.stdin.flush()
        return float(json.loads(self._line()))

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        asyncio.run(_worker(Path(sys.argv[2])))
        return
    base_ref = sys.argv[1] if len(sys.argv) > 1 else "main"
    new_ref = sys.argv[2] if len(sys.argv) > 2 else None
    workdir = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    names = (base_ref, new_ref or "working tree")
    workers = {
        names[0]: Worker(lay_out(base_ref, workdir / "base"), env),
        names[1]: Worker(lay_out(new_ref, workdir / "new"), env),
    }
    scenarios = workers[names[1]].scenarios
    samples: dict[str, dict[str, list[float]]] = {
        name: {s: [] for s in scenarios} for name in names
    }
    print(
        f"{ROUNDS} batches x {REQUESTS} requests per scenario and version, alternating",
        flush=True,
    )
    try:
        for round_ in range(ROUNDS):
            order = names if round_ % 2 == 0 else names[::-1]
            for scenario in scenarios:
                for name in order:
                    samples[name][scenario].append(workers[name].measure(scenario))
    finally:
        for worker in workers.values():
            worker.close()
    base, new = names
    print(f"\n{'scenario (CPU µs/request, median)':36} {base:>13} {new:>13} {'new/base':>9}")
    for scenario in scenarios:
        before = statistics.median(samples[base][scenario])
        after = statistics.median(samples[new][scenario])
        print(f"{scenario:36} {before:13.1f} {after:13.1f} {after / before:9.2f}")


if __name__ == "__main__":
    main()
