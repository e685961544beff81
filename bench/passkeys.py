"""Passkey sign-ins per second beside password sign-ins, on one worker, in the same run.

    uv run python bench/passkeys.py

Starts the service as bench/run.py does (one worker; PostgreSQL + Redis when
BENCH_DATABASE_URL / BENCH_REDIS_URL are set, else embedded SQLite + memory),
registers a passkey for the benchmark user with the test suite's software
authenticator (ES256, no signature counter, like a synced passkey), then drives
complete sign-ins with a bounded asyncio client, alternating the two kinds:

- a passkey sign-in = POST .../passkeys/login/options, an ES256 assertion signed
  by the client, POST .../passkeys/login/verify -> 200 TokenPair;
- a password sign-in = POST /auth/login -> 200 TokenPair (bcrypt at BCRYPT_ROUNDS).

Both open a session, write an audit row and return a token pair; a password
sign-in also pays for bcrypt, a passkey one for an ECDSA verification (tens of
microseconds) and a challenge in the store. The target is passkey >= 20x
password. Knobs: BENCH_DURATION (seconds per measurement, default 5),
BENCH_ROUNDS (2), BENCH_CONNECTIONS (16), BCRYPT_ROUNDS (12).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import Result  # noqa: E402
from bench.run import (  # noqa: E402
    BCRYPT_ROUNDS,
    EMAIL,
    PASSWORD,
    ROUNDS,
    free_port,
    login_pair,
    mode_name,
    server,
    service_env,
)
from tests.support.authenticator import Authenticator  # noqa: E402

DURATION = float(os.environ.get("BENCH_DURATION", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
FRONTEND = "http://localhost:3000"
API = "/api/v1"
TARGET_RATIO = 20.0


def register_passkey(base: str) -> Authenticator:
    access = login_pair(base)["access_token"]
    headers = {"Authorization": f"Bearer {access}"}
    authenticator = Authenticator(origin=FRONTEND)
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        options = client.post(f"{API}/users/passkeys/register/options").raise_for_status().json()
        credential = authenticator.register(options)
        client.post(
            f"{API}/users/passkeys/register/verify", json={"credential": credential}
        ).raise_for_status()
    return authenticator


SignIn = Callable[[httpx.AsyncClient], Awaitable[bool]]


def passkey_sign_in(authenticator: Authenticator) -> SignIn:
    async def once(client: httpx.AsyncClient) -> bool:
        options = await client.post(f"{API}/auth/passkeys/login/options")
        if options.status_code != 200:
            return False
        credential = authenticator.sign_in(options.json())
        verify = await client.post(
            f"{API}/auth/passkeys/login/verify", json={"credential": credential}
        )
        return verify.status_code == 200

    return once


async def password_sign_in(client: httpx.AsyncClient) -> bool:
    response = await client.post(f"{API}/auth/login", json={"email": EMAIL, "password": PASSWORD})
    return response.status_code == 200


async def drive(base: str, sign_in: SignIn, *, duration: float, connections: int) -> Result:
    """Complete sign-ins per second with `connections` concurrent clients."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                ok = await sign_in(client)
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - start)
            else:
                errors += 1

    limits = httpx.Limits(max_connections=connections)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000

    return Result(len(latencies) / elapsed, pct(0.50), pct(0.99), errors, len(latencies))


def median(results: list[Result]) -> Result:
    ordered = sorted(results, key=lambda r: r.rps)
    middle = ordered[len(ordered) // 2]
    return Result(
        statistics.median(r.rps for r in results),
        middle.p50_ms,
        middle.p99_ms,
        sum(r.errors for r in results),
        sum(r.requests for r in results),
    )


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-passkeys-"))
    env = {**service_env(workdir), "FRONTEND_BASE_URL": FRONTEND}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cores = os.cpu_count() or 1
    print(
        f"mode: {mode_name(env)}; asyncio client; {ROUNDS} rounds; "
        f"{CONNECTIONS} connections for passkeys, {4 * cores} for passwords; "
        f"bcrypt rounds {BCRYPT_ROUNDS}; {cores} cores",
        flush=True,
    )
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    passkey_runs: list[Result] = []
    password_runs: list[Result] = []
    with server(command, env, workdir / "app.log", port):
        passkey = passkey_sign_in(register_passkey(base))
        for round_ in range(ROUNDS):
            print(f"round {round_ + 1}: passkeys ...", flush=True)
            passkey_runs.append(
                asyncio.run(drive(base, passkey, duration=DURATION, connections=CONNECTIONS))
            )
            print(f"round {round_ + 1}: passwords ...", flush=True)
            # A password sign-in takes about a quarter of a second: a longer window
            # keeps the hashes in flight at its edges from weighing on the rate.
            password_runs.append(
                asyncio.run(
                    drive(
                        base,
                        password_sign_in,
                        duration=max(3 * DURATION, 15),
                        connections=4 * cores,
                    )
                )
            )
    passkeys, passwords = median(passkey_runs), median(password_runs)
    ratio = passkeys.rps / passwords.rps if passwords.rps else float("inf")
    print()
    print(f"{'sign-in':36} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, result in (("passkey (options + verify)", passkeys), ("password", passwords)):
        print(
            f"{name:36} {result.rps:9.1f} {result.p50_ms:8.2f} {result.p99_ms:8.2f} "
            f"{result.errors:7d}"
        )
    print(f"\npasskey / password: {ratio:.1f}x")
    targets = [
        (f"passkey sign-ins >= {TARGET_RATIO:g} x password sign-ins", ratio >= TARGET_RATIO),
        ("zero errors", passkeys.errors == 0 and passwords.errors == 0),
    ]
    for name, ok in targets:
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}")
    sys.exit(0 if all(ok for _, ok in targets) else 1)


if __name__ == "__main__":
    main()
