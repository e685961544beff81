"""What the breached-password check costs a registration: the service with and without it.

    uv run python bench/breach_check_cost.py

Serves the application twice with the same uvicorn flags, once with
PASSWORD_BREACH_CHECK on (pointed at a range API served by this script on the
loopback interface, so nothing leaves the machine) and once with it off, and
drives `POST /api/v1/auth/register` on both, interleaved, with a new address
per request:

- "cached": every registration uses one password, so after the first request
  the prefix's answer comes from the process's cache (the claim to check:
  no slower than without the check);
- "uncached": every registration uses a new password, so each one asks the
  range API (here a loopback call: a floor for the real round trip).

Same environment knobs as bench/run.py (BENCH_DURATION, BENCH_ROUNDS,
BCRYPT_ROUNDS, BENCH_DATABASE_URL, BENCH_REDIS_URL), and
BENCH_REGISTER_CONNECTIONS (4).
Registration is bcrypt-bound, so a small asyncio client is load enough.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import Result  # noqa: E402
from bench.run import (  # noqa: E402
    DURATION,
    ROUNDS,
    free_port,
    interleave,
    mode_name,
    service_env,
    uvicorn_server,
)

PASSWORD = "a sturdy benchmark passphrase"
# Registration is bcrypt-bound: a few connections per core keep every core busy
# without queueing requests for seconds.
CONNECTIONS = int(os.environ.get("BENCH_REGISTER_CONNECTIONS", "4"))


class _RangeAPI(BaseHTTPRequestHandler):
    """Pwned Passwords' range API in shape: 800 padded suffixes per prefix."""

    calls = 0

    def do_GET(self) -> None:  # noqa: N802  (the standard library's name)
        type(self).calls += 1
        lines = [f"{secrets.token_hex(18)[:35].upper()}:{i % 3}" for i in range(800)]
        body = "\r\n".join(lines).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextmanager
def range_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RangeAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def register_load(base: str, password: Callable[[], str]) -> Result:
    """POST /auth/register with a new address per request for DURATION seconds."""

    async def run() -> Result:
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + DURATION

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                body = {
                    "email": f"bench-{secrets.token_hex(8)}@example.com",
                    "password": password(),
                }
                start = time.perf_counter()
                try:
                    response = await client.post(f"{base}/api/v1/auth/register", json=body)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - start)
                if response.status_code != 201:
                    errors += 1
                    if errors == 1:
                        print(f"  first error: {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        limits = httpx.Limits(max_connections=CONNECTIONS)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            await asyncio.gather(*(worker(client) for _ in range(CONNECTIONS)))
        elapsed = time.perf_counter() - started
        latencies.sort()
        p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
        p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan")
        return Result(len(latencies) / elapsed, p50, p99, errors, len(latencies))

    return asyncio.run(run())


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    env = service_env(workdir)
    on_port, off_port = free_port(), free_port()
    on, off = f"http://127.0.0.1:{on_port}", f"http://127.0.0.1:{off_port}"
    print(
        f"mode: {mode_name(env)}; POST /auth/register, {CONNECTIONS} connections; "
        f"{ROUNDS} rounds x {DURATION:g}s",
        flush=True,
    )
    with range_api() as hibp:
        on_env = {**env, "PASSWORD_BREACH_CHECK": "true", "HIBP_API_URL": hibp}
        with (
            uvicorn_server("app.main:create_app", on_env, workdir / "on.log", on_port),
            uvicorn_server("app.main:create_app", env, workdir / "off.log", off_port),
        ):
            same = partial(str, PASSWORD)

            def fresh() -> str:
                return f"{PASSWORD} {secrets.token_hex(6)}"

            results = interleave(
                {
                    "check on, answer cached": partial(register_load, on, same),
                    "check off": partial(register_load, off, same),
                    "check on, new prefix each time": partial(register_load, on, fresh),
                }
            )
    print(f"\n{'scenario':34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, result in results.items():
        print(
            f"{name:34} {result.rps:8.2f} {result.p50_ms:8.1f} {result.p99_ms:8.1f} "
            f"{result.errors:7d}"
        )
    cached, without = results["check on, answer cached"], results["check off"]
    print(
        f"\nregister with the check on and its answer cached: {cached.rps / without.rps:.2f} x "
        f"the throughput without it (p50 {cached.p50_ms - without.p50_ms:+.1f} ms); "
        f"range API calls served: {_RangeAPI.calls}"
    )
    digest = hashlib.sha1(PASSWORD.encode(), usedforsecurity=False).hexdigest()  # noqa: S324
    print(f"(the cached prefix: {digest[:5].upper()})")


if __name__ == "__main__":
    main()
