"""Work that runs after the response: a tracked set of asyncio tasks.

Jobs are awaited on shutdown (bounded), and tests can `join()` to wait for them.
A job that raises is logged, never propagated to a request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)

Job = Callable[[], Awaitable[None]]


class BackgroundRunner:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, name: str, job: Job) -> None:
        task = asyncio.get_running_loop().create_task(self._run(name, job), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run(name: str, job: Job) -> None:
        try:
            await job()
        except Exception:
            log.exception("background_job_failed", job=name)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def join(self) -> None:
        """Wait until every submitted job (and any job they submit) has finished."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def shutdown(self, grace: float) -> None:
        """Give running jobs `grace` seconds, then cancel the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(list(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("background_jobs_cancelled", count=len(pending))
            await asyncio.gather(*pending, return_exceptions=True)
