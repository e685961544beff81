"""Rate limiting: a sliding-window counter, shared through Redis, per process without it.

Each check is one atomic step: one Lua call on Redis (one round trip), or one
dict update in memory. A limit may let a process reserve a batch of hits in
that call and spend them without asking again (see `Limit.batch`). The
window is the classic two-counter approximation of a sliding window (the
previous minute's count weighted by how much of it still overlaps, plus the
current minute's), so memory and time per check are O(1) however high an
operator sets the limit. A refused request is not
counted, so hammering a limit does not extend it.

Every decision taken while serving a request is recorded on the request's
context (app.core.context), so the middleware can describe the tightest limit that applied
(RateLimit-* headers) even when a service made the decision.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.cache.resilient import RedisHealth
from app.core.context import request_context_var

# Reserves up to ARGV[4] hits at once (a lease the process then spends without
# asking again): never more than the budget left, and never more than a
# sixteenth of it, so near the limit every hit is counted one by one.
_SCRIPT = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local elapsed = tonumber(ARGV[3])
local batch = tonumber(ARGV[4])
local previous = tonumber(redis.call('GET', KEYS[1]) or '0')
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
local used = math.floor(previous * (window - elapsed) / window) + current
if used >= limit then
  return {0, used, 0}
end
local grant = math.max(1, math.min(batch, math.floor((limit - used) / 16)))
current = redis.call('INCRBY', KEYS[2], grant)
if current == grant then
  redis.call('PEXPIRE', KEYS[2], window * 2)
end
return {1, used + grant, grant}
"""


@dataclass(frozen=True, slots=True)
class Limit:
    """`amount` requests per `window` seconds, under its own `name` (its own budget).

    With Redis, a process may reserve up to `batch` hits of the budget in one
    round trip and spend them locally. Reserved hits count as used, so the
    limit is never exceeded; the cost is that hits reserved by one process
    are not available to another until the window moves on. Security limits
    (login, reset, per account) keep `batch=1`: every hit asks Redis.
    """

    name: str
    amount: int
    window: int = 60
    batch: int = 1


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the current window ends (0-window)

    def headers(self) -> list[tuple[bytes, bytes]]:
        values = [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset).encode()),
        ]
        if not self.allowed:
            values.append((b"retry-after", str(max(1, self.reset)).encode()))
        return values


def tightest(decisions: list[Decision]) -> Decision | None:
    """The decision to report: a refusal first, else the one with the least left."""
    if not decisions:
        return None
    return min(decisions, key=lambda d: (d.allowed, d.remaining, -d.reset))


class MemoryCounter:
    """Per-process sliding-window counters.

    Keys whose windows have passed are dropped in one sweep once the table
    holds more than `max_keys`. A sweep that frees little (every client is
    still active) raises the next threshold to twice what is left, so the
    table is swept again only after it has grown as much: amortised O(1) per
    new key, never a rescan on every hit.
    """

    def __init__(self, *, max_keys: int = 100_000) -> None:
        # key -> (window index, previous count, current count)
        self._windows: dict[str, tuple[int, int, int]] = {}
        self._max_keys = max_keys
        self._sweep_above = max_keys
        self.sweeps = 0

    def hit(self, key: str, limit: int, window_ms: int, now_ms: int) -> tuple[bool, int]:
        index, elapsed = divmod(now_ms, window_ms)
        stored = self._windows.get(key)
        if stored is None or stored[0] < index - 1:
            previous, current = 0, 0
        elif stored[0] == index - 1:
            previous, current = stored[2], 0
        else:
            previous, current = stored[1], stored[2]
        used = previous * (window_ms - elapsed) // window_ms + current
        if used >= limit:
            return False, used
        if stored is None and len(self._windows) >= self._sweep_above:
            self._sweep(index)
        self._windows[key] = (index, previous, current + 1)
        return True, used + 1

    def _sweep(self, index: int) -> None:
        self.sweeps += 1
        self._windows = {k: v for k, v in self._windows.items() if v[0] >= index - 1}
        self._sweep_above = max(self._max_keys, 2 * len(self._windows))

    def __len__(self) -> int:
        return len(self._windows)

    def clear(self) -> None:
        self._windows.clear()
        self._sweep_above = self._max_keys


class RateLimiter:
    """Checks limits against Redis when configured (falling back to memory while it is
    unreachable, with the shared RedisHealth), else against process memory."""

    def __init__(
        self,
        *,
        redis: Redis | None,
        prefix: str,
        health: RedisHealth | None = None,
        timer: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._prefix = prefix.rstrip(":") + ":rl:"
        self._health = health or RedisHealth()
        self._timer = timer
        self._memory = MemoryCounter()
        self._script: Any = redis.register_script(_SCRIPT) if redis is not None else None
        # key -> [window index, hits reserved and not yet spent, Redis count after reserving]
        self._leases: dict[str, list[int]] = {}
        self._reserving: dict[str, asyncio.Future[None]] = {}

    @property
    def backend(self) -> str:
        if self._redis is None:
            return "memory"
        return "memory-fallback" if self._health.degraded else "redis"

    async def hit(self, limit: Limit, key: str) -> Decision:
        """Count one request against `limit` for `key`; record and return the decision."""
        now_ms = int(self._timer() * 1000)
        window_ms = limit.window * 1000
        allowed, used = await self._count(limit, key, window_ms, now_ms)
        decision = Decision(
            allowed=allowed,
            limit=limit.amount,
            remaining=max(0, limit.amount - used),
            reset=math.ceil((window_ms - now_ms % window_ms) / 1000),
        )
        request = request_context_var.get()
        if request is not None:
            request.decisions.append(decision)
        return decision

    async def _count(self, limit: Limit, key: str, window_ms: int, now_ms: int) -> tuple[bool, int]:
        base = f"{self._prefix}{limit.name}:{key}:"
        if self._script is not None and self._health.should_try():
            index, elapsed = divmod(now_ms, window_ms)
            if limit.batch > 1:
                spent = await self._spend_lease(base, index)
                if spent is not None:
                    return True, spent
                self._reserving[base] = asyncio.get_running_loop().create_future()
            try:
                allowed, used, granted = await self._script(
                    keys=[f"{base}{index - 1}", f"{base}{index}"],
                    args=[limit.amount, window_ms, elapsed, limit.batch],
                )
            except (RedisError, OSError) as exc:
                self._health.mark_down(exc)
            else:
                self._health.mark_up()
                if int(granted) > 1:
                    self._lease(base, index, int(granted) - 1, int(used))
                return bool(allowed), int(used) - max(0, int(granted) - 1)
            finally:
                reserving = self._reserving.pop(base, None)
                if reserving is not None:
                    reserving.set_result(None)
        return self._memory.hit(base, limit.amount, window_ms, now_ms)

    async def _spend_lease(self, base: str, index: int) -> int | None:
        """Take one hit from this process's lease (the count to report), or None when
        there is none left. While another request is reserving for the same key,
        wait for it: concurrent misses would each reserve a batch."""
        while True:
            lease = self._leases.get(base)
            if lease is not None and lease[0] == index and lease[1] > 0:
                lease[1] -= 1
                return lease[2] - lease[1]
            reserving = self._reserving.get(base)
            if reserving is None:
                return None
            await asyncio.shield(reserving)

    def _lease(self, base: str, index: int, left: int, used: int) -> None:
        if len(self._leases) > 10_000:
            self._leases = {k: v for k, v in self._leases.items() if v[0] >= index}
        self._leases[base] = [index, left, used]

    def reset_memory(self) -> None:
        self._memory.clear()
