"""Benchmark the service against a bare FastAPI app in the same run.

    uv run python bench/run.py

Starts the service (one worker; PostgreSQL + Redis when BENCH_DATABASE_URL /
BENCH_REDIS_URL are set, else embedded SQLite + memory) and a bare FastAPI app
with the same uvicorn flags, drives both with wrk (or a bounded asyncio
client), interleaving targets, and prints every figure as a ratio to a
ceiling measured in this run: the bare app's /health, and bcrypt's own speed.

Environment knobs: BENCH_DURATION (seconds per measurement, default 5),
BENCH_ROUNDS (default 2), BENCH_CONNECTIONS (32), BENCH_THREADS (2),
BCRYPT_ROUNDS (12), BENCH_ALGORITHM (the service's ALGORITHM, default HS256;
ES256 or EdDSA measure the key set's signing and verifying).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import bcrypt
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import Result, Target, have_wrk, run  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DURATION = float(os.environ.get("BENCH_DURATION", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
BCRYPT_ROUNDS = int(os.environ.get("BCRYPT_ROUNDS", "12"))
ALGORITHM = os.environ.get("BENCH_ALGORITHM", "HS256")
EMAIL = "bench@example.com"
PASSWORD = "bench passphrase 1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            sys.exit(f"server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    sys.exit(f"server did not start:\n{log.read_text()[-3000:]}")


@contextmanager
def server(args: list[str], env: dict[str, str], log: Path, port: int) -> Iterator[int]:
    with log.open("w") as out:
        proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    values = {
        line.split(":")[0]: line.split()[1]
        for line in status.splitlines()
        if line.startswith(("VmRSS", "VmHWM"))
    }
    return int(values["VmRSS"]) / 1024, int(values["VmHWM"]) / 1024


def bcrypt_ceiling(threads: int, seconds: float = 3.0) -> float:
    """Verifications per second at BCRYPT_ROUNDS on 64-byte inputs, as the service hashes."""
    secret = secrets.token_urlsafe(48)[:64].encode()
    hashed = bcrypt.hashpw(secret, bcrypt.gensalt(BCRYPT_ROUNDS))
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def spin(i: int) -> None:
        while time.perf_counter() < deadline:
            bcrypt.checkpw(secret, hashed)
            counts[i] += 1

    workers = [threading.Thread(target=spin, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - start)


def probe_beside_cpu_hogs(probe: Callable[[], Result]) -> Result:
    """The probe while every core spins in a plain process at nice 19, the
    priority of the service's bcrypt threads: what this machine's scheduler
    alone does to a cheap request's tail, with no login work in the service."""
    spin = "import time\nend = time.time() + %f\nwhile time.time() < end: pass" % (DURATION + 2)
    hogs = [
        subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", spin])  # noqa: S603, S607
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        time.sleep(0.5)
        return probe()
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def measure(
    target: Target, *, connections: int = CONNECTIONS, duration: float = DURATION, workdir: Path
) -> Result:
    return run(target, duration=duration, connections=connections, threads=THREADS, workdir=workdir)


def best(results: list[Result]) -> Result:
    """Median of the rounds by throughput; errors summed over all rounds."""
    ordered = sorted(results, key=lambda r: r.rps)
    middle = ordered[len(ordered) // 2]
    return Result(
        rps=statistics.median(r.rps for r in results),
        p50_ms=middle.p50_ms,
        p99_ms=middle.p99_ms,
        errors=sum(r.errors for r in results),
        requests=sum(r.requests for r in results),
    )


def interleave(targets: dict[str, Callable[[], Result]]) -> dict[str, Result]:
    """Each target once per round, in reverse order every other round, so no target
    always runs first (or always right after another)."""
    runs: dict[str, list[Result]] = {name: [] for name in targets}
    order = list(targets.items())
    for round_ in range(ROUNDS):
        for name, fn in order if round_ % 2 == 0 else reversed(order):
            runs[name].append(fn())
    return {name: best(results) for name, results in runs.items()}


def login_pair(base: str) -> dict[str, str]:
    response = httpx.post(
        f"{base}/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=30
    )
    response.raise_for_status()
    return dict(response.json())


def seed_refresh_tokens(base: str, count: int) -> list[str]:
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return [
            pair["refresh_token"] for pair in pool.map(lambda _: login_pair(base), range(count))
        ]


UVICORN_FLAGS = ["--no-access-log", "--no-proxy-headers", "--no-server-header", "--workers", "1"]


def service_env(workdir: Path) -> dict[str, str]:
    """The service's environment for a benchmark, with its database migrated and seeded."""
    database_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{workdir}/bench.db"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "BENCH_"))},
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", ""),
        "REDIS_KEY_PREFIX": f"bench-{secrets.token_hex(4)}",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PASSWORD_PEPPER": secrets.token_urlsafe(48),
        "BCRYPT_ROUNDS": str(BCRYPT_ROUNDS),
        "ALGORITHM": ALGORITHM,
        # The benchmark measures throughput, not the limiter's 429s.
        "RATE_LIMIT_PER_MINUTE": "1000000000",
        "AUTH_RATE_LIMIT_PER_MINUTE": "1000000000",
        "LOG_LEVEL": "INFO",
        "EMAIL_BACKEND": "console",
        "BACKEND_BASE_URL": "http://localhost:8000",
        # Never ask the real Pwned Passwords from a benchmark (bench/breach_check_cost.py
        # measures the check against a local range API).
        "PASSWORD_BREACH_CHECK": "false",
    }
    for command in (["migrate"], ["create-admin", "--email", EMAIL, "--password", PASSWORD]):
        subprocess.run(  # noqa: S603
            [sys.executable, "-m", "app.cli", *command],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    return env


def mode_name(env: dict[str, str]) -> str:
    database = "postgresql" if "postgresql" in env["DATABASE_URL"] else "sqlite"
    if database == "sqlite" and not env["REDIS_URL"]:
        return "embedded (sqlite+memory)"
    return f"{database}+redis" if env["REDIS_URL"] else database


def uvicorn_server(
    factory: str, env: dict[str, str], log: Path, port: int
) -> AbstractContextManager[int]:
    """An app factory served by uvicorn with the benchmark's common flags."""
    args = [sys.executable, "-m", "uvicorn", factory, "--factory", "--port", str(port)]
    return server([*args, "--log-level", "warning", *UVICORN_FLAGS], env, log, port)


def main() -> None:  # noqa: PLR0915
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    env = service_env(workdir)
    python = sys.executable
    app_port, bare_port = free_port(), free_port()
    app_base, bare_base = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{bare_port}"
    mode = mode_name(env)
    # The reference route verifies asymmetric tokens with the service's JWKS.
    env = {**env, "REFERENCE_JWKS_URL": f"{app_base}/.well-known/jwks.json"}
    print(
        f"mode: {mode}; load generator: {'wrk' if have_wrk() else 'asyncio client'}; "
        f"{ROUNDS} rounds x {DURATION:g}s, {CONNECTIONS} connections; "
        f"bcrypt rounds {BCRYPT_ROUNDS}; {os.cpu_count()} cores; access tokens {ALGORITHM}",
        flush=True,
    )

    with (
        server(
            [python, "-m", "app.cli", "serve", "--port", str(app_port)],
            env,
            workdir / "app.log",
            app_port,
        ) as app_pid,
        uvicorn_server("bench.bare_app:create_app", env, workdir / "bare.log", bare_port),
    ):
        access = login_pair(app_base)["access_token"]
        m = lambda target, **kw: lambda: measure(target, workdir=workdir, **kw)  # noqa: E731

        print("measuring /health ...", flush=True)
        health = interleave(
            {
                "bare /health": m(Target(f"{bare_base}/health")),
                "app /health": m(Target(f"{app_base}/health")),
                "app /.well-known/jwks.json": m(Target(f"{app_base}/.well-known/jwks.json")),
            }
        )
        print("measuring the authenticated profile ...", flush=True)
        profile = interleave(
            {
                "bare /health": m(Target(f"{bare_base}/health")),
                "app GET /users/profile": m(
                    Target(f"{app_base}/api/v1/users/profile", token=access)
                ),
                "bare reference profile (JWT + DB per request)": m(
                    Target(f"{bare_base}/reference/profile", token=access)
                ),
            }
        )
        print("measuring refresh ...", flush=True)
        refresh_runs = []
        for _ in range(ROUNDS):
            # Two seeds per connection: wrk may ask for the next request before it hands
            # over the previous response, so each thread keeps a spare token.
            seeds = seed_refresh_tokens(app_base, 2 * CONNECTIONS)
            refresh_runs.append(
                measure(
                    Target(f"{app_base}/api/v1/auth/refresh", method="POST", chain_seeds=seeds),
                    workdir=workdir,
                )
            )
        refresh = best(refresh_runs)

        print("measuring bcrypt ceiling ...", flush=True)
        cores = os.cpu_count() or 1
        ceiling_one = bcrypt_ceiling(1)
        ceiling_all = bcrypt_ceiling(cores)

        print("measuring login ...", flush=True)
        login_target = Target(
            f"{app_base}/api/v1/auth/login", method="POST", body=f"{EMAIL}:{PASSWORD}"
        )
        # Each login takes a quarter of a second: a short window would lose a
        # noticeable share to the first hashes in flight and the last ones cut off.
        login = best(
            [
                measure(
                    login_target,
                    connections=4 * cores,
                    duration=max(3 * DURATION, 15),
                    workdir=workdir,
                )
                for _ in range(ROUNDS)
            ]
        )

        print("measuring profile latency with and without login saturation ...", flush=True)
        probe = Target(f"{app_base}/api/v1/users/profile", token=access)
        quiet = measure(probe, connections=1, duration=DURATION, workdir=workdir)
        busy_result: list[Result] = []
        loader = threading.Thread(
            target=lambda: busy_result.append(
                measure(login_target, connections=4 * cores, duration=DURATION + 2, workdir=workdir)
            )
        )
        loader.start()
        time.sleep(1)
        busy = measure(probe, connections=1, duration=DURATION, workdir=workdir)
        loader.join()
        floor = probe_beside_cpu_hogs(lambda: measure(probe, connections=1, workdir=workdir))
        rss_now, rss_peak = rss_mb(app_pid)

    bare = health["bare /health"]
    rows = [
        ("bare /health", bare, 1.0),
        ("app /health", health["app /health"], health["app /health"].rps / bare.rps),
        (
            "app /.well-known/jwks.json",
            health["app /.well-known/jwks.json"],
            health["app /.well-known/jwks.json"].rps / bare.rps,
        ),
        ("bare /health (profile round)", profile["bare /health"], 1.0),
        (
            "app GET /users/profile",
            profile["app GET /users/profile"],
            profile["app GET /users/profile"].rps / profile["bare /health"].rps,
        ),
        (
            "bare reference profile",
            profile["bare reference profile (JWT + DB per request)"],
            profile["bare reference profile (JWT + DB per request)"].rps
            / profile["bare /health"].rps,
        ),
        ("app POST /auth/refresh", refresh, refresh.rps / bare.rps),
        ("app POST /auth/login", login, login.rps / ceiling_all),
        ("profile probe, idle (c=1)", quiet, 1.0),
        (
            "profile probe, logins saturating",
            busy,
            busy.p99_ms / quiet.p99_ms if quiet.p99_ms else float("nan"),
        ),
        (
            "profile probe, CPU hogs at nice 19 (floor)",
            floor,
            floor.p99_ms / quiet.p99_ms if quiet.p99_ms else float("nan"),
        ),
    ]
    print()
    print(f"{'scenario':44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'ratio':>7}")
    for name, result, ratio in rows:
        print(
            f"{name:44} {result.rps:9.1f} {result.p50_ms:8.2f} {result.p99_ms:8.2f} "
            f"{result.errors:7d} {ratio:7.2f}"
        )
    print(
        f"\nbcrypt ceiling at cost {BCRYPT_ROUNDS}: {ceiling_one:.1f}/s on one thread, "
        f"{ceiling_all:.1f}/s on {cores} threads"
    )
    print(f"service worker RSS: {rss_now:.1f} MiB now, {rss_peak:.1f} MiB peak")

    reference = profile["bare reference profile (JWT + DB per request)"]
    app_profile = profile["app GET /users/profile"]
    all_results = [
        *health.values(),
        *profile.values(),
        refresh,
        login,
        quiet,
        busy,
        floor,
        *busy_result,
    ]
    targets = [
        ("/health >= 0.75 x bare", health["app /health"].rps >= 0.75 * bare.rps),
        (
            "JWKS >= 0.75 x bare /health",
            health["app /.well-known/jwks.json"].rps >= 0.75 * bare.rps,
        ),
        (
            "refresh >= 500 req/s, p99 < 100 ms (PostgreSQL)"
            if mode.startswith("postgresql")
            else f"refresh p99 < 150 ms at {CONNECTIONS} connections (SQLite)",
            refresh.rps >= 500 and refresh.p99_ms < 100
            if mode.startswith("postgresql")
            else refresh.p99_ms < 150,
        ),
        ("profile >= 0.5 x bare /health", app_profile.rps >= 0.5 * profile["bare /health"].rps),
        ("profile >= 2 x reference route", app_profile.rps >= 2 * reference.rps),
        ("login >= 0.9 x bcrypt ceiling (all cores)", login.rps >= 0.9 * ceiling_all),
        ("profile p99 under login load <= 2 x idle", busy.p99_ms <= 2 * quiet.p99_ms),
        ("zero errors in every scenario", all(r.errors == 0 for r in all_results)),
        ("worker RSS after the run < 150 MiB", rss_now < 150),
    ]
    print()
    for name, ok in targets:
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(
        json.dumps(
            {
                "mode": mode,
                "algorithm": ALGORITHM,
                "rows": [{"scenario": n, **r.__dict__, "ratio": ratio} for n, r, ratio in rows],
                "bcrypt": {"one_thread": ceiling_one, "all_cores": ceiling_all, "cores": cores},
                "rss_mib": {"now": rss_now, "peak": rss_peak},
                "targets": dict(targets),
            },
            indent=2,
        )
    )
    sys.exit(0 if all(ok for _, ok in targets) else 1)


if __name__ == "__main__":
    main()
