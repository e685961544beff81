"""Logs, read from the process's stderr while a real server runs a whole account flow.

One line per request with request id, method, route template, status,
duration and client; readable console lines for development; and never a
password, a token, or the hash of either, from any logger (ours, uvicorn's,
SQLAlchemy's, aiosqlite's, httpx's) even at DEBUG.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.main import create_app
from tests.conftest import base_settings
from tests.support.flows import PASSWORD, bearer, new_email
from tests.support.mail import Mailbox
from tests.support.server import serving

API = "/api/v1"
NEW_PASSWORD = "second sturdy passphrase"
RESET_PASSWORD = "third sturdy passphrase"
WRONG_PASSWORD = "wrong-guess-passphrase-31337"
NOISY = ("uvicorn", "uvicorn.error", "sqlalchemy.engine", "aiosqlite", "httpx", "httpcore")


@pytest.fixture(autouse=True)
def restore_logger_levels() -> Iterator[None]:
    levels = {name: logging.getLogger(name).level for name in NOISY}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


async def _full_flow(app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox) -> dict[str, Any]:
    """Register, verify, log in (JSON and form), refresh, change password, reset, log out."""
    email = new_email("logs")
    secrets: dict[str, Any] = {
        "passwords": [PASSWORD, NEW_PASSWORD, RESET_PASSWORD, WRONG_PASSWORD]
    }
    r = await client.post(f"{API}/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    await app.state.ctx.background.join()
    verify_token = mailbox.token(email, "/verify-email")
    r = await client.post(f"{API}/auth/verify-email", json={"token": verify_token})
    assert r.status_code == 200, r.text

    r = await client.post(f"{API}/auth/login", json={"email": email, "password": WRONG_PASSWORD})
    assert r.status_code == 401
    first = (
        await client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    ).json()
    form = await client.post(f"{API}/auth/token", data={"username": email, "password": PASSWORD})
    assert form.status_code == 200, form.text
    second = form.json()
    r = await client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    third = r.json()
    r = await client.post(
        f"{API}/users/change-password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(third["access_token"]) | {"x-request-id": "flow-change-password"},
    )
    assert r.status_code == 204, r.text

    r = await client.post(f"{API}/auth/password-reset", json={"email": email})
    assert r.status_code == 202
    await app.state.ctx.background.join()
    reset_token = mailbox.token(email, "/reset-password")
    r = await client.post(
        f"{API}/auth/password-reset/complete",
        json={"token": reset_token, "new_password": RESET_PASSWORD},
    )
    assert r.status_code == 200, r.text
    fourth = (
        await client.post(f"{API}/auth/login", json={"email": email, "password": RESET_PASSWORD})
    ).json()
    r = await client.get(f"{API}/users/profile", headers=bearer(fourth["access_token"]))
    assert r.status_code == 200
    r = await client.post(
        f"{API}/auth/logout",
        json={"refresh_token": fourth["refresh_token"]},
        headers=bearer(fourth["access_token"]),
    )
    assert r.status_code == 204, r.text
    # Rejected tokens are not logged either.
    r = await client.get(f"{API}/users/profile", headers=bearer(fourth["access_token"]))
    assert r.status_code == 401

    pairs = [first, second, third, fourth]
    secrets["tokens"] = [verify_token, reset_token] + [
        p[kind] for p in pairs for kind in ("access_token", "refresh_token")
    ]
    async with app.state.ctx.sessionmaker() as db:
        connection = await db.connection()
        query = text("SELECT hashed_password FROM users WHERE email = :e")
        row = await connection.execute(query, {"e": email})
        secrets["hashes"] = [row.scalar_one()] + [
            hashlib.sha256(p["refresh_token"].encode()).hexdigest() for p in pairs
        ]
    secrets["email"] = email
    return secrets


def _fragments(secrets: dict[str, Any]) -> list[str]:
    """Every secret, plus the parts of each JWT (a signature alone is still a leak)."""
    found: list[str] = [*secrets["passwords"], *secrets["tokens"], *secrets["hashes"]]
    for token in secrets["tokens"]:
        if token.count(".") == 2:
            found.extend(part for part in token.split(".")[1:] if len(part) > 16)
    return found


async def test_a_full_flow_logs_requests_but_never_secrets(
    database_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = base_settings(database_url, LOG_LEVEL="DEBUG", LOG_FORMAT="json")
    mailbox = Mailbox()  # not the console backend, which logs links by design
    app = create_app(settings, email_sender=mailbox, email_retry_delay=0.001)
    async with serving(app, log_level="debug") as running:
        secrets = await _full_flow(app, running.client, mailbox)
    output = capfd.readouterr()
    logs = output.err + output.out

    for secret in _fragments(secrets):
        assert secret not in logs, f"a secret reached the logs: {secret[:12]}..."

    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    loggers = {line.get("logger") for line in lines}
    assert {"app.request", "uvicorn.error", "sqlalchemy.engine.Engine"} <= loggers
    statements = [line for line in lines if line.get("logger") == "sqlalchemy.engine.Engine"]
    assert any("SELECT" in line["event"] for line in statements)
    assert any("parameters hidden" in line["event"] for line in statements)
    requests = [line for line in lines if line.get("event") == "request"]
    assert len(requests) == 13  # every request of the flow, one line each
    for line in requests:
        assert {"request_id", "method", "route", "status", "duration_ms", "client"} <= set(line)
        assert line["client"] == "127.0.0.1"
        assert line["route"].startswith(("/api/v1/", "/health"))
    change = next(line for line in requests if line["request_id"] == "flow-change-password")
    assert change["method"] == "POST" and change["status"] == 204
    assert change["route"] == "/api/v1/users/change-password"
    assert isinstance(change["duration_ms"], float)
    assert not any(line.get("logger") == "uvicorn.access" for line in lines)


async def test_console_format_is_readable(
    database_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = base_settings(database_url, LOG_LEVEL="INFO", LOG_FORMAT="console")
    app = create_app(settings, email_sender=Mailbox())
    async with serving(app) as running:
        r = await running.client.get("/health", headers={"x-request-id": "console-check"})
        assert r.status_code == 200
    logs = capfd.readouterr().err
    line = next(line for line in logs.splitlines() if "console-check" in line)
    assert not line.startswith("{")
    assert "\x1b[" not in line  # no colour codes when stderr is not a terminal
    assert re.search(r"\brequest\b", line)
    for part in ("method=GET", "route=/health", "status=200", "request_id=console-check"):
        assert part in line
