"""Running the service for end-to-end tests: `backend serve` as a real process, or the
app under a real uvicorn server inside the test's event loop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from tests.conftest import TEST_PEPPER, TEST_SECRET_KEY
from tests.support.smtp import free_port

CLI = [sys.executable, "-m", "app.cli"]


def server_env(**values: str) -> dict[str, str]:
    """The environment of a test server: the test keys, fast bcrypt, no TEST_* leakage."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    env.update(
        SECRET_KEY=TEST_SECRET_KEY,
        PASSWORD_PEPPER=TEST_PEPPER,
        BCRYPT_ROUNDS="4",
        LOG_LEVEL="WARNING",
    )
    env.update(values)
    return env


def backend(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [*CLI, *args], env=env, cwd=cwd, check=True, capture_output=True, text=True
    )


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text()


@contextmanager
def running_server(env: dict[str, str], cwd: Path, *, name: str = "server") -> Iterator[Server]:
    """Start `backend serve` on a free port; stop it with SIGTERM afterwards."""
    port = free_port()
    log = cwd / f"{name}.log"
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603
            [*CLI, "serve", "--port", str(port)], env=env, cwd=cwd, stdout=out, stderr=out
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not start:\n{server.output()[-3000:]}")
            try:
                if httpx.get(f"{server.base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Running:
    server: uvicorn.Server
    task: asyncio.Task[None]
    client: httpx.AsyncClient
    base_url: str

    async def stop(self) -> None:
        """What SIGTERM does: stop accepting, let requests finish, run the lifespan's exit."""
        self.server.should_exit = True
        await self.task


@asynccontextmanager
async def serving(app: FastAPI, **options: Any) -> AsyncIterator[Running]:
    """Serve `app` configured as `backend serve` does; stopped (gracefully) on exit."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=20,
        **options,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    base_url = f"http://127.0.0.1:{port}"
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped the start-up
                raise AssertionError("the server stopped during start-up")
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            yield Running(server, task, client, base_url)
    finally:
        server.should_exit = True
        await task
