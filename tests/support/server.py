"""Running an app under a real uvicorn server inside the test's event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
