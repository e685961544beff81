"""`backend create-admin` checks the password against Pwned Passwords too, here over real
HTTP against a range API served on the loopback interface."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from tests.support.cli import cli_environment
from tests.support.fake_services import BREACHED, sha1

runner = CliRunner()


class _RangeHandler(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802  (the standard library's name)
        self.requests.append(self.path)
        prefix = self.path.rsplit("/", 1)[-1].upper()
        lines = [
            f"{digest[5:]}:{count}"
            for password, count in BREACHED.items()
            if (digest := sha1(password)).startswith(prefix)
        ]
        body = "\r\n".join(lines + ["0" * 35 + ":0"]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def range_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, scratch_database_url: str, range_api: str
) -> None:
    cli_environment(
        monkeypatch,
        tmp_path,
        scratch_database_url,
        PASSWORD_BREACH_CHECK="true",
        HIBP_API_URL=range_api,
    )


@pytest.mark.usefixtures("env")
def test_create_admin_refuses_a_breached_password() -> None:
    _RangeHandler.requests.clear()
    args = ["create-admin", "--email", "boss@example.com", "--password"]
    result = runner.invoke(cli, [*args, next(iter(BREACHED))])
    assert result.exit_code != 0
    assert "breach" in result.output
    assert _RangeHandler.requests == [f"/range/{sha1(next(iter(BREACHED)))[:5]}"]
    result = runner.invoke(cli, [*args, "an unlisted boss passphrase"])
    assert result.exit_code == 0, result.output


@pytest.mark.usefixtures("env")
def test_create_admin_on_an_existing_account_checks_the_password_too() -> None:
    args = ["create-admin", "--email", "boss@example.com", "--password"]
    assert runner.invoke(cli, [*args, "an unlisted boss passphrase"]).exit_code == 0
    _RangeHandler.requests.clear()
    result = runner.invoke(cli, [*args, next(iter(BREACHED))])
    assert result.exit_code != 0 and "breach" in result.output
    assert len(_RangeHandler.requests) == 1
