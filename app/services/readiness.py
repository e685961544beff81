"""The readiness answer, kept for a second per process.

`/health/ready` is public and exempt from rate limits (probes must never be
throttled), so every call would otherwise cost a database round trip. One
answer a second per process is plenty for any orchestrator, and a schema that
falls behind (or a database that goes away) shows within that second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from app.core.clock import Clock
from app.schemas.health import ReadyOut

READY_CACHE_TTL = timedelta(seconds=1)


class ReadinessCache:
    def __init__(self, ttl: timedelta = READY_CACHE_TTL) -> None:
        self._ttl = ttl
        self._answer: ReadyOut | None = None
        self._taken_at: datetime | None = None
        # Probes arriving while one runs wait for its answer instead of querying too.
        self._lock = asyncio.Lock()

    def _fresh(self, now: datetime) -> ReadyOut | None:
        taken = self._taken_at
        if taken is not None and taken <= now < taken + self._ttl:
            return self._answer
        return None

    async def get(self, clock: Clock, probe: Callable[[], Awaitable[ReadyOut]]) -> ReadyOut:
        """The cached answer while fresh, else the answer of one new `probe()`."""
        answer = self._fresh(clock.now())
        if answer is not None:
            return answer
        async with self._lock:
            answer = self._fresh(clock.now())
            if answer is None:
                answer = await probe()
                self._answer, self._taken_at = answer, clock.now()
            return answer
