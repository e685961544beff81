"""Webhooks and API keys under load, on one worker, in the same run.

    uv run python bench/webhooks.py

Starts the service as bench/run.py does (one worker; PostgreSQL + Redis when
BENCH_DATABASE_URL / BENCH_REDIS_URL are set, else embedded SQLite + memory),
with WEBHOOK_ALLOW_PRIVATE_URLS=true so it may post to a receiver on this
machine (a minimal asyncio HTTP/1.1 server in this process), and a bare
FastAPI app. It measures:

- login throughput with three endpoints subscribed to `login_success` against
  none (the endpoints are disabled between rounds; rounds alternate), target
  >= 0.95x: a sign-in only adds an outbox row, the sending happens beside it;
- deliveries per second: N `webhook.test` messages queued while their endpoint
  is disabled, then the time from enabling it until the receiver has them all;
- commit-to-delivery latency: messages queued at a steady rate, the receiver
  subtracting each message's `timestamp` (taken just before the commit) from
  its arrival; target median < 1 s;
- GET /users/profile with a personal API key against the bare app's /health,
  target >= 0.5x (and with an access token, for comparison).

Knobs: BENCH_DURATION (seconds per throughput window, 5), BENCH_ROUNDS (2),
BENCH_CONNECTIONS (32), BCRYPT_ROUNDS (12), BENCH_DELIVERIES (2000).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import Target  # noqa: E402
from bench.run import (  # noqa: E402
    BCRYPT_ROUNDS,
    DURATION,
    EMAIL,
    PASSWORD,
    ROUNDS,
    best,
    free_port,
    have_wrk,
    login_pair,
    measure,
    mode_name,
    server,
    service_env,
    uvicorn_server,
)

DELIVERIES = int(os.environ.get("BENCH_DELIVERIES", "2000"))


class Receiver:
    """An HTTP/1.1 keep-alive receiver on a loopback port, in its own thread and loop."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrivals: list[tuple[float, str]] = []  # (wall time, body)
        self._ready = threading.Event()
        threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True).start()
        self._ready.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _serve(self) -> None:
        server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self._ready.set()
        async with server:
            await server.serve_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.arrivals.append((time.time(), body.decode()))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(pid: int, *, within: float = 15.0) -> None:
    """Wait until the process is idle: under 2% of a core over a second (CPU time
    moves in 10 ms ticks, so a shorter window could not tell 2% from nothing)."""
    deadline = time.perf_counter() + within
    last = cpu_seconds(pid)
    while time.perf_counter() < deadline:
        time.sleep(1.0)
        now = cpu_seconds(pid)
        if now - last <= 0.02:
            return
        last = now
    print(f"  (the service was still busy {within:g} s after the window)", flush=True)


def wait_for(count: int, receiver: Receiver, within: float) -> float:
    """Seconds until the receiver holds `count` messages."""
    start = time.perf_counter()
    while len(receiver.arrivals) < count:
        if time.perf_counter() - start > within:
            sys.exit(f"only {len(receiver.arrivals)} of {count} messages arrived in {within}s")
        time.sleep(0.005)
    return time.perf_counter() - start


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    env = {**service_env(workdir), "WEBHOOK_ALLOW_PRIVATE_URLS": "true", "LOG_LEVEL": "WARNING"}
    app_port, bare_port = free_port(), free_port()
    base, bare = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{bare_port}"
    cores = os.cpu_count() or 1
    print(
        f"mode: {mode_name(env)}; load generator: {'wrk' if have_wrk() else 'asyncio client'}; "
        f"{ROUNDS} rounds; bcrypt rounds {BCRYPT_ROUNDS}; {cores} cores",
        flush=True,
    )
    receiver = Receiver()
    with (
        server(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(app_port)],
            env,
            workdir / "app.log",
            app_port,
        ) as app_pid,
        uvicorn_server("bench.bare_app:create_app", env, workdir / "bare.log", bare_port),
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        admin = {"Authorization": f"Bearer {login_pair(base)['access_token']}"}
        hooks = "/api/v1/admin/webhooks"

        def endpoint(events: list[str], enabled: bool = True) -> str:
            made = http.post(hooks, json={"url": receiver.url, "events": events}, headers=admin)
            made.raise_for_status()
            hook_id = str(made.json()["id"])
            if not enabled:
                http.patch(f"{hooks}/{hook_id}", json={"enabled": False}, headers=admin)
            return hook_id

        def enable(hook_id: str, on: bool) -> None:
            http.patch(f"{hooks}/{hook_id}", json={"enabled": on}, headers=admin).raise_for_status()

        # 1. Login throughput, three subscribers against none --------------------------
        print("measuring login with 0 and 3 login_success subscribers ...", flush=True)
        subscribers = [endpoint(["login_success"], enabled=False) for _ in range(3)]
        login_target = Target(
            f"{base}/api/v1/auth/login", method="POST", body=f"{EMAIL}:{PASSWORD}"
        )
        runs: dict[str, list] = {"none": [], "three": []}
        # The service's CPU per sign-in (its deliveries included): unlike throughput,
        # barely moved by other load on a shared machine.
        cpu: dict[str, list[float]] = {"none": [], "three": []}
        window = max(3 * DURATION, 15)
        for round_ in range(ROUNDS):
            for name in ("none", "three") if round_ % 2 == 0 else ("three", "none"):
                for hook_id in subscribers:
                    enable(hook_id, name == "three")
                before, cpu_before = len(receiver.arrivals), cpu_seconds(app_pid)
                result = measure(
                    login_target, connections=4 * cores, duration=window, workdir=workdir
                )
                runs[name].append(result)
                if name == "three":
                    wait_for(before + 3 * result.requests, receiver, within=120)
                # Logins still in flight when wrk stops finish now: their work is this
                # window's, and must not spill into the next one (which would charge
                # whichever variant runs second).
                settle(app_pid)
                cpu[name].append((cpu_seconds(app_pid) - cpu_before) / max(result.requests, 1))
        for hook_id in subscribers:
            enable(hook_id, False)
        login_none, login_three = best(runs["none"]), best(runs["three"])

        # 2. Deliveries per second ------------------------------------------------------
        print(f"measuring deliveries/s ({DELIVERIES} messages) ...", flush=True)
        drain = endpoint(["register"], enabled=False)

        async def queue_tests(count: int) -> None:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                sem = asyncio.Semaphore(16)

                async def one() -> None:
                    async with sem:
                        (
                            await client.post(f"{hooks}/{drain}/test", headers=admin)
                        ).raise_for_status()

                await asyncio.gather(*(one() for _ in range(count)))

        asyncio.run(queue_tests(DELIVERIES))
        before = len(receiver.arrivals)
        enable(drain, True)
        seconds = wait_for(before + DELIVERIES, receiver, within=600)
        per_second = DELIVERIES / seconds

        # 3. Commit-to-delivery latency at a steady rate -------------------------------
        print("measuring commit-to-delivery latency ...", flush=True)
        before = len(receiver.arrivals)
        sent = 200
        for _ in range(sent):
            http.post(f"{hooks}/{drain}/test", headers=admin).raise_for_status()
            time.sleep(0.02)
        wait_for(before + sent, receiver, within=60)
        latencies = []
        for arrived, body in receiver.arrivals[before:]:
            stamp = datetime.fromisoformat(json.loads(body)["timestamp"].replace("Z", "+00:00"))
            latencies.append((arrived - stamp.timestamp()) * 1000)
        latencies.sort()
        median_ms = statistics.median(latencies)
        p95_ms = latencies[int(0.95 * (len(latencies) - 1))]
        enable(drain, False)

        # 4. Profile with an API key against bare /health -------------------------------
        print("measuring GET /users/profile with an API key ...", flush=True)
        key = http.post("/api/v1/users/api-keys", json={"name": "bench"}, headers=admin)
        key.raise_for_status()
        api_key = str(key.json()["key"])
        access = admin["Authorization"].removeprefix("Bearer ")
        targets = {
            "bare /health": Target(f"{bare}/health"),
            "app profile, API key": Target(f"{base}/api/v1/users/profile", token=api_key),
            "app profile, access token": Target(f"{base}/api/v1/users/profile", token=access),
        }
        profile_runs: dict[str, list] = {name: [] for name in targets}
        order = list(targets.items())
        for round_ in range(ROUNDS):
            for name, target in order if round_ % 2 == 0 else reversed(order):
                profile_runs[name].append(measure(target, workdir=workdir))
        profile = {name: best(results) for name, results in profile_runs.items()}

    health = profile["bare /health"]
    rows = [
        ("login, no subscribers", login_none, 1.0),
        ("login, 3 login_success subscribers", login_three, login_three.rps / login_none.rps),
        ("bare /health", health, 1.0),
        ("profile, API key", profile["app profile, API key"],
         profile["app profile, API key"].rps / health.rps),
        ("profile, access token", profile["app profile, access token"],
         profile["app profile, access token"].rps / health.rps),
    ]  # fmt: skip
    print()
    print(f"{'scenario':40} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'ratio':>7}")
    for name, result, ratio in rows:
        print(
            f"{name:40} {result.rps:9.1f} {result.p50_ms:8.2f} {result.p99_ms:8.2f} "
            f"{result.errors:7d} {ratio:7.2f}"
        )
    cpu_none, cpu_three = statistics.median(cpu["none"]), statistics.median(cpu["three"])
    print(
        f"\nservice CPU per sign-in: {cpu_none * 1000:.1f} ms with no subscribers, "
        f"{cpu_three * 1000:.1f} ms with 3 (3 deliveries each, sent and recorded); "
        f"capacity ratio {cpu_none / cpu_three:.3f}"
    )
    print(f"deliveries: {DELIVERIES} in {seconds:.2f} s = {per_second:.0f}/s (one worker)")
    print(f"commit-to-delivery: median {median_ms:.1f} ms, p95 {p95_ms:.1f} ms ({sent} messages)")
    checks = [
        ("login with 3 subscribers >= 0.95 x none", login_three.rps >= 0.95 * login_none.rps),
        ("service CPU per login: none >= 0.95 x three", cpu_none >= 0.95 * cpu_three),
        ("median commit-to-delivery < 1 s", median_ms < 1000),
        ("profile with an API key >= 0.5 x bare /health",
         profile["app profile, API key"].rps >= 0.5 * health.rps),
        ("zero errors", all(r.errors == 0 for _, r, _ in rows)),
    ]  # fmt: skip
    print()
    for name, ok in checks:
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}")
    sys.exit(0 if all(ok for _, ok in checks) else 1)


if __name__ == "__main__":
    main()
