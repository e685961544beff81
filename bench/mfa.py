"""Sign-ins with TOTP (login + verify) per second, beside bcrypt's ceiling and plain
password sign-ins, on one worker, in the same run.

    uv run python bench/mfa.py

Starts the service as bench/run.py does (one worker; PostgreSQL + Redis when
BENCH_DATABASE_URL / BENCH_REDIS_URL are set, else embedded SQLite + memory).
A TOTP step is accepted once per account, so the run seeds BENCH_TOTP_USERS
(1000) accounts with TOTP on, written straight to the database the way
enrolment leaves them (the secret encrypted with the service's data key, the
password hashed once at BCRYPT_ROUNDS and shared), and each sign-in takes the
next account:

- a TOTP sign-in = POST /auth/login -> 403 mfa_required, then POST
  /auth/mfa/verify {mfa_token, code} -> 200 TokenPair (the code from pyotp);
- a password sign-in = POST /auth/login -> 200 TokenPair, for comparison.

The second step runs no bcrypt, so a TOTP sign-in should cost about what a
password sign-in does. Target: TOTP sign-ins >= 0.9 x the bcrypt ceiling on
all cores (bench/run.py's login target). Knobs: BENCH_DURATION (the window is
max(3 x it, 15) s), BENCH_ROUNDS (2), BCRYPT_ROUNDS (12), BENCH_TOTP_USERS.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyotp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import Result  # noqa: E402
from bench.passkeys import drive, median, password_sign_in  # noqa: E402
from bench.run import (  # noqa: E402
    BCRYPT_ROUNDS,
    DURATION,
    PASSWORD,
    ROUNDS,
    bcrypt_ceiling,
    free_port,
    mode_name,
    server,
    service_env,
)

USERS = int(os.environ.get("BENCH_TOTP_USERS", "1000"))
TARGET = 0.9
API = "/api/v1"


async def seed(env: dict[str, str], count: int) -> list[tuple[str, str]]:
    """`count` verified accounts with TOTP on: [(email, secret)]."""
    from app.config import Settings
    from app.core.crypto import Purpose, cipher_from_keys
    from app.core.security import PasswordHasher
    from app.database.connection import create_engine, create_sessionmaker
    from app.models import User

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        DATABASE_URL=env["DATABASE_URL"],
        SECRET_KEY=env["SECRET_KEY"],
        PASSWORD_PEPPER=env["PASSWORD_PEPPER"],
        BCRYPT_ROUNDS=BCRYPT_ROUNDS,
    )
    cipher = cipher_from_keys(settings.data_encryption_keys, settings.password_pepper)
    hasher = PasswordHasher(pepper=settings.password_pepper, rounds=BCRYPT_ROUNDS)
    hashed = hasher.hash_sync(PASSWORD)
    hasher.close()
    engine = create_engine(settings)
    accounts = []
    now = datetime.now(UTC)
    async with create_sessionmaker(engine)() as db:
        for i in range(count):
            user_id = uuid.uuid4()
            secret = pyotp.random_base32(32)
            email = f"totp-{i}@bench.example.com"
            db.add(
                User(
                    id=user_id,
                    email=email,
                    hashed_password=hashed,
                    is_verified=True,
                    totp_secret=cipher.encrypt(
                        Purpose.TOTP_SECRET, secret.encode(), context=str(user_id)
                    ),
                    created_at=now,
                    updated_at=now,
                )
            )
            accounts.append((email, secret))
        await db.commit()
    await engine.dispose()
    return accounts


def totp_sign_in(accounts: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    async def once(client: httpx.AsyncClient) -> bool:
        if not accounts:
            raise SystemExit("out of seeded TOTP accounts: raise BENCH_TOTP_USERS")
        email, secret = accounts.pop()
        first = await client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
        if first.status_code != 403:
            return False
        second = await client.post(
            f"{API}/auth/mfa/verify",
            json={"mfa_token": first.json()["mfa_token"], "code": pyotp.TOTP(secret).now()},
        )
        return second.status_code == 200

    return once


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-mfa-"))
    env = service_env(workdir)
    accounts = asyncio.run(seed(env, USERS))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cores = os.cpu_count() or 1
    window = max(3 * DURATION, 15)
    print(
        f"mode: {mode_name(env)}; asyncio client; {ROUNDS} rounds x {window:g}s; "
        f"{4 * cores} connections; bcrypt rounds {BCRYPT_ROUNDS}; {cores} cores; "
        f"{USERS} TOTP accounts",
        flush=True,
    )
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    totp_runs: list[Result] = []
    password_runs: list[Result] = []
    sign_in = totp_sign_in(accounts)
    with server(command, env, workdir / "app.log", port):
        for round_ in range(ROUNDS):
            print(f"round {round_ + 1}: TOTP sign-ins ...", flush=True)
            totp_runs.append(
                asyncio.run(drive(base, sign_in, duration=window, connections=4 * cores))
            )
            print(f"round {round_ + 1}: password sign-ins ...", flush=True)
            password_runs.append(
                asyncio.run(drive(base, password_sign_in, duration=window, connections=4 * cores))
            )
    print("measuring bcrypt ceiling ...", flush=True)
    ceiling = bcrypt_ceiling(cores)
    totp, passwords = median(totp_runs), median(password_runs)
    print()
    print(f"{'sign-in':36} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'ratio':>7}")
    for name, result in (("TOTP (login + verify)", totp), ("password (login)", passwords)):
        print(
            f"{name:36} {result.rps:9.1f} {result.p50_ms:8.2f} {result.p99_ms:8.2f} "
            f"{result.errors:7d} {result.rps / ceiling:7.2f}"
        )
    print(f"\nbcrypt ceiling at cost {BCRYPT_ROUNDS} on {cores} threads: {ceiling:.1f}/s")
    print(f"TOTP / password sign-ins: {totp.rps / passwords.rps:.2f}x")
    targets = [
        (f"TOTP sign-ins >= {TARGET:g} x bcrypt ceiling", totp.rps >= TARGET * ceiling),
        ("zero errors", totp.errors == 0 and passwords.errors == 0),
    ]
    for name, ok in targets:
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}")
    sys.exit(0 if all(ok for _, ok in targets) else 1)


if __name__ == "__main__":
    main()
