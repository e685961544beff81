"""Query timing and pool statistics from SQLAlchemy event hooks.

The hooks run on every statement, so they stay cheap and bounded: two clock
reads, a counter, and a fixed-size window of recent durations for the p95.
Slow statements are kept by *shape* (the SQL text with literals blanked),
never with their parameters, in a small least-recently-seen table.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool

from app.core import metrics

WINDOW = 1000  # recent durations kept for the p95
SLOW_SHAPES = 50  # distinct slow statements remembered
SHAPE_LENGTH = 1000
_START_KEY = "monitoring_query_start"

_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![\w$:%])-?\d+(?:\.\d+)?\b")
_PARAM = r"(?:\?|%\(\w+\)s|:\w+|\$\d+)"  # qmark, pyformat, named, numeric
_PLACEHOLDER_LIST = re.compile(rf"\((?:\s*{_PARAM}\s*,)+\s*{_PARAM}\s*\)")
_SPACE = re.compile(r"\s+")


def statement_shape(statement: str) -> str:
    """The statement with string and number literals replaced by `?`, on one line.

    Bound parameters never reach this function; literals are blanked as well
    because a hand-written statement could inline a value.
    """
    shape = _STRING_LITERAL.sub("?", statement)
    shape = _NUMBER.sub("?", shape)
    shape = _PLACEHOLDER_LIST.sub("(...)", shape)
    shape = _SPACE.sub(" ", shape).strip()
    return shape if len(shape) <= SHAPE_LENGTH else shape[: SHAPE_LENGTH - 3] + "..."


@dataclass(slots=True)
class SlowQuery:
    statement: str
    count: int
    max_ms: float
    total_ms: float
    last_seen: float  # wall-clock epoch seconds


@dataclass(frozen=True, slots=True)
class PoolStats:
    kind: str
    size: int
    checked_out: int
    checked_in: int
    overflow: int


@dataclass(frozen=True, slots=True)
class QueryStats:
    count: int
    errors: int
    mean_ms: float | None
    p95_ms: float | None
    slow_threshold_ms: float
    slow_count: int
    slow_queries: list[SlowQuery]


def pool_stats(pool: Pool) -> PoolStats:
    """What a pool holds now. Pools without a fixed size (SQLite memory, NullPool) report 0."""

    def read(name: str) -> int:
        method: Callable[[], Any] | None = getattr(pool, name, None)
        try:
            value = method() if method else 0
        except Exception:  # a pool class without that statistic
            value = 0
        return value if isinstance(value, int) else 0

    return PoolStats(
        kind=type(pool).__name__,
        size=read("size"),
        checked_out=read("checkedout"),
        checked_in=read("checkedin"),
        # QueuePool counts unused overflow capacity as negative numbers.
        overflow=max(0, read("overflow")),
    )


class DatabaseMonitor:
    """Attach to an engine with `install()`; read with `query_stats()` and `pool_stats()`."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        slow_threshold_ms: float = 200.0,
        timer: Callable[[], float] = time.perf_counter,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.slow_threshold_ms = slow_threshold_ms
        self._timer = timer
        self._wall_clock = wall_clock
        self._count = 0
        self._errors = 0
        self._total_ms = 0.0
        self._slow_count = 0
        self._recent: deque[float] = deque(maxlen=WINDOW)
        self._slow: OrderedDict[str, SlowQuery] = OrderedDict()
        self._installed = False

    # Hooks -----------------------------------------------------------------

    def install(self) -> None:
        if self._installed:
            return
        sync_engine = self.engine.sync_engine
        event.listen(sync_engine, "before_cursor_execute", self._before)
        event.listen(sync_engine, "after_cursor_execute", self._after)
        event.listen(sync_engine, "handle_error", self._error)
        event.listen(sync_engine, "checkout", self._pool_changed)
        event.listen(sync_engine, "checkin", self._pool_changed)
        self._installed = True

    def remove(self) -> None:
        if not self._installed:
            return
        sync_engine = self.engine.sync_engine
        event.remove(sync_engine, "before_cursor_execute", self._before)
        event.remove(sync_engine, "after_cursor_execute", self._after)
        event.remove(sync_engine, "handle_error", self._error)
        event.remove(sync_engine, "checkout", self._pool_changed)
        event.remove(sync_engine, "checkin", self._pool_changed)
        self._installed = False

    def _before(self, conn: Connection, *_: Any) -> None:
        conn.info.setdefault(_START_KEY, []).append(self._timer())

    def _after(
        self,
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        starts: list[float] = conn.info.get(_START_KEY) or []
        if not starts:
            return
        elapsed_ms = (self._timer() - starts.pop()) * 1000
        self._count += 1
        self._total_ms += elapsed_ms
        self._recent.append(elapsed_ms)
        if elapsed_ms >= self.slow_threshold_ms:
            self._record_slow(statement, elapsed_ms)

    def _error(self, context: ExceptionContext) -> None:
        self._errors += 1
        connection = context.connection
        if connection is not None:
            starts: list[float] = connection.info.get(_START_KEY) or []
            if starts:
                starts.pop()

    def _pool_changed(self, *_: Any) -> None:
        stats = self.pool_stats()
        metrics.set_pool(size=stats.size, checked_out=stats.checked_out, overflow=stats.overflow)

    def _record_slow(self, statement: str, elapsed_ms: float) -> None:
        self._slow_count += 1
        shape = statement_shape(statement)
        entry = self._slow.get(shape)
        if entry is None:
            if len(self._slow) >= SLOW_SHAPES:
                self._slow.popitem(last=False)
            entry = self._slow[shape] = SlowQuery(shape, 0, 0.0, 0.0, 0.0)
        else:
            self._slow.move_to_end(shape)
        entry.count += 1
        entry.max_ms = max(entry.max_ms, elapsed_ms)
        entry.total_ms += elapsed_ms
        entry.last_seen = self._wall_clock()

    # Reading ---------------------------------------------------------------

    def query_stats(self) -> QueryStats:
        recent = sorted(self._recent)
        p95 = recent[min(len(recent) - 1, int(0.95 * len(recent)))] if recent else None
        slowest = sorted(self._slow.values(), key=lambda q: q.max_ms, reverse=True)
        return QueryStats(
            count=self._count,
            errors=self._errors,
            mean_ms=self._total_ms / self._count if self._count else None,
            p95_ms=p95,
            slow_threshold_ms=self.slow_threshold_ms,
            slow_count=self._slow_count,
            slow_queries=[
                SlowQuery(q.statement, q.count, q.max_ms, q.total_ms, q.last_seen) for q in slowest
            ],
        )

    def pool_stats(self) -> PoolStats:
        return pool_stats(self.engine.sync_engine.pool)

    def publish(self) -> None:
        """Copy the pool state into the Prometheus gauges (before a scrape)."""
        self._pool_changed()
