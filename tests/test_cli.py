"""The `backend` command: settings errors, create-admin, and a real `serve` end to end."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.database.migrations import upgrade
from tests.conftest import TEST_PEPPER, TEST_SECRET_KEY, base_settings
from tests.support.cli import cli_environment
from tests.support.redis_server import redis_server

runner = CliRunner()


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, scratch_database_url: str
) -> dict[str, str]:
    """A migrated scratch database and the environment pointing at it."""
    return cli_environment(monkeypatch, tmp_path, scratch_database_url)


def test_help_lists_the_commands() -> None:
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "migrate", "create-admin"):
        assert command in result.output


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("SECRET_KEY", "short", "error: SECRET_KEY must be at least 32 characters long"),
        ("SECRET_KEY", "changeme-" + "0123456789abcdef" * 2, None),
        (
            "ACCESS_TOKEN_EXPIRE_MINUTES",
            "soon",
            "error: invalid setting ACCESS_TOKEN_EXPIRE_MINUTES",
        ),
        ("ALGORITHM", "none", "error: invalid setting ALGORITHM"),
        ("SECRET_KEY", "k" * 36, "error: SECRET_KEY has too few distinct characters"),
        ("SECRET_KEY", TEST_PEPPER, "error: SECRET_KEY and PASSWORD_PEPPER must be two different"),
        (
            "DATABASE_URL",
            "mysql://u@db/app",
            "error: invalid setting DATABASE_URL: unsupported database scheme mysql://",
        ),
        ("LOG_LEVEL", "debug", None),
    ],
)
def test_bad_settings_give_a_one_line_error(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, name: str, value: str, line: str | None
) -> None:
    monkeypatch.setenv(name, value)
    result = runner.invoke(cli, ["migrate"])
    if line is None:  # long enough and not a listed example: accepted
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line)


def test_every_bad_setting_is_reported_in_one_start(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALGORITHM", "none")
    monkeypatch.setenv("SECRET_KEY", "k" * 36)
    monkeypatch.setenv("PASSWORD_PEPPER", "k" * 36)
    result = runner.invoke(cli, ["migrate"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [
        "error: invalid setting ALGORITHM: Input should be 'HS256', 'HS384', 'HS512', "
        "'ES256', 'EdDSA' or 'RS256'",
        "error: SECRET_KEY has too few distinct characters (at least 8); "
        "generate a random one, e.g. `openssl rand -base64 48`",
        "error: PASSWORD_PEPPER has too few distinct characters (at least 8); "
        "generate a random one, e.g. `openssl rand -base64 48`",
        "error: SECRET_KEY and PASSWORD_PEPPER must be two different random values",
    ]


def test_create_admin_then_promote(env: dict[str, str]) -> None:
    created = runner.invoke(
        cli, ["create-admin", "--email", " Boss@Example.com ", "--password", "boss passphrase 1"]
    )
    assert created.exit_code == 0, created.output
    assert "created admin boss@example.com" in created.output
    again = runner.invoke(
        cli, ["create-admin", "--email", "boss@example.com", "--password", "boss passphrase 1"]
    )
    assert again.exit_code == 0 and "boss@example.com is already an admin" in again.output


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("boss@example.com", "short", "at least 8"),
        ("not-an-email", "boss passphrase 1", "not a valid email"),
    ],
)
def test_create_admin_refuses_bad_input(
    env: dict[str, str], email: str, password: str, message: str
) -> None:
    result = runner.invoke(cli, ["create-admin", "--email", email, "--password", password])
    assert result.exit_code == 1
    assert message in result.output


def test_serve_refuses_workers_without_redis(env: dict[str, str]) -> None:
    result = runner.invoke(cli, ["serve", "--workers", "2"])
    assert result.exit_code == 1
    assert "REDIS_URL" in result.output


def test_serve_fails_fast_when_the_database_is_unreachable(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nothing")
    start = time.perf_counter()
    result = runner.invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert "database unreachable at 127.0.0.1:1/nothing" in result.output
    assert time.perf_counter() - start < 10


def test_serve_refuses_an_unmigrated_database_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, scratch_database_url: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for key, value in {
        "DATABASE_URL": scratch_database_url,  # reachable, never migrated
        "SECRET_KEY": TEST_SECRET_KEY,
        "PASSWORD_PEPPER": TEST_PEPPER,
    }.items():
        monkeypatch.setenv(key, value)
    result = runner.invoke(cli, ["serve"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: database schema is behind: at no revision")
    assert lines[0].endswith("run `backend migrate`")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_on_a_fresh_directory_end_to_end(tmp_path: Path) -> None:
    """`backend serve` with no settings at all: migrates, starts, and a user can sign up."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    clean_env["BCRYPT_ROUNDS"] = "4"
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=clean_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        with httpx.Client(base_url=base, timeout=5) as client:
            deadline = time.monotonic() + 60  # a first start imports and migrates
            while True:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(log_path.read_text())
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            email = "fresh@example.com"
            password = "fresh clone passphrase"
            body = {"email": email, "password": password}
            assert client.post("/api/v1/auth/register", json=body).status_code == 201
            token = None
            for _ in range(50):
                match = re.search(r"verify-email\?token=([\w-]+)", log_path.read_text())
                if match:
                    token = match.group(1)
                    break
                time.sleep(0.1)
            assert token, "the console email backend logs the verification link"
            assert (
                client.post("/api/v1/auth/verify-email", json={"token": token}).status_code == 200
            )
            pair = client.post("/api/v1/auth/login", json=body).json()
            profile = client.get(
                "/api/v1/users/profile", headers={"Authorization": f"Bearer {pair['access_token']}"}
            )
            assert profile.json()["email"] == email
            assert client.get("/docs").status_code == 200
            assert "server" not in profile.headers  # uvicorn's banner is off
    finally:
        server.send_signal(signal.SIGTERM)
        # A graceful stop on SIGTERM is a normal exit, not death by the signal.
        assert server.wait(timeout=30) == 0, log_path.read_text()[-2000:]
    assert (tmp_path / "data" / "app.db").exists()
    assert (tmp_path / "data" / "secret_key").exists()
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    assert {"request_id", "method", "route", "status", "duration_ms", "client"} <= set(requests[0])
    assert not any(line.get("logger") == "uvicorn.access" for line in lines)
    assert any(line.get("event") == "shutdown_complete" for line in lines)


def test_prune_command(env: dict[str, str]) -> None:
    result = runner.invoke(cli, ["prune", "--session-days", "7", "--audit-days", "30"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "pruned 0 one-time tokens, 0 sessions, 0 audit rows, 0 webhook deliveries"
    )


def test_serve_with_workers_names_its_address_and_exits_0_on_sigterm(
    tmp_path: Path, scratch_database_url: str
) -> None:
    """`serve --workers 2` in production shape: one line gives the address, both workers
    start (one creates FIRST_ADMIN_*, the other finds it), SIGTERM stops all with 0."""
    upgrade(base_settings(scratch_database_url))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    with redis_server(tmp_path) as redis:
        env |= {
            "DATABASE_URL": scratch_database_url,
            "REDIS_URL": redis.url,
            "SECRET_KEY": TEST_SECRET_KEY,
            "PASSWORD_PEPPER": TEST_PEPPER,
            "BCRYPT_ROUNDS": "4",
            "LOG_FORMAT": "json",
            "FIRST_ADMIN_EMAIL": "root@example.com",
            "FIRST_ADMIN_PASSWORD": "first admin passphrase",
        }
        log_path = tmp_path / "server.log"
        with log_path.open("w") as log:
            server = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "2"],
                cwd=tmp_path,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            # Each worker is a fresh interpreter: slow to start on a busy machine.
            deadline = time.monotonic() + 150
            while log_path.read_text().count('"startup_complete"') < 2:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(log_path.read_text())
                time.sleep(0.1)
            while True:  # a worker listens a moment after its start-up completes
                try:
                    ready = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=5)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            assert ready.status_code == 200
        finally:
            server.send_signal(signal.SIGTERM)
            code = server.wait(timeout=60)
    text = log_path.read_text()
    assert code == 0, text[-3000:]
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert len(lines) == len(text.splitlines()), "every line is JSON"
    assert any(f"http://127.0.0.1:{port}" in line["event"] for line in lines), text
    events = sorted(e["event"] for e in lines if e["event"].startswith("first_admin"))
    assert events == ["first_admin_created", "first_admin_exists"]
    assert not [line for line in lines if line["level"] in ("error", "critical")], text
    assert sum(line["event"] == "shutdown_complete" for line in lines) == 2
