"""`backend serve --workers N`: one /metrics that adds up every worker's counts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from typer.testing import CliRunner

from app.cli import cli
from tests.support.prom import value

REQUESTS = "auth_http_requests_total"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_gives_workers_a_fresh_metrics_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}

    def fake_run(*args: Any, **kwargs: Any) -> None:
        path = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        seen.update(path=path, exists=path.is_dir(), empty=not any(path.iterdir()), **kwargs)

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # only checked for presence here
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "stale"))
    monkeypatch.setattr(uvicorn, "run", fake_run)
    result = CliRunner().invoke(cli, ["serve", "--workers", "3"])
    assert result.exit_code == 0, result.output
    assert seen["workers"] == 3 and seen["factory"] is True
    assert seen["exists"] and seen["empty"]
    assert seen["path"] != tmp_path / "stale"
    assert not seen["path"].exists()  # removed when the server stopped


def test_a_single_worker_keeps_the_plain_registry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setattr(
        uvicorn, "run", lambda *a, **k: seen.update(env=os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
    )
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 0, result.output
    assert seen == {"env": None}


@pytest.mark.redis
def test_metrics_add_up_across_workers(tmp_path: Path) -> None:
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("needs Redis (TEST_REDIS_URL): --workers > 1 requires REDIS_URL")
    prefix = f"test-mp-{uuid.uuid4().hex[:12]}"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "PROMETHEUS_"))}
    env |= {"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": prefix, "BCRYPT_ROUNDS": "4"}
    env |= {"RATE_LIMIT_PER_MINUTE": "100000", "LOG_LEVEL": "WARNING"}
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
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail(log_path.read_text())
            time.sleep(0.2)
        sent = 40
        # A new connection per request, so both workers take some.
        with httpx.Client(base_url=base, timeout=5, headers={"connection": "close"}) as client:
            # The first worker may answer before the second has started: wait for both.
            while value(client.get("/metrics").text, "auth_workers") != 2:
                if time.monotonic() > deadline:
                    pytest.fail("the second worker did not start")
                time.sleep(0.2)
            for _ in range(sent):
                assert client.get("/health/ready").status_code == 200
            totals = set()
            for _ in range(6):
                text = client.get("/metrics").text
                totals.add(value(text, REQUESTS, route="/health/ready", status="200"))
        # Whichever worker answers the scrape, it reports every worker's requests.
        assert totals == {sent}
        assert value(text, "auth_workers") == 2  # both workers' files are merged
        assert "auth_db_pool_connections" in text
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) in (0, -signal.SIGTERM), log_path.read_text()
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()
