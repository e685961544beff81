"""Prometheus metrics: what is counted, and how `/metrics` renders it.

Labels carry only bounded, non-personal values: route templates, methods,
statuses, event names. Never an id, an email or a raw path.

Multi-process: when `PROMETHEUS_MULTIPROC_DIR` is set before this module is
imported (`backend serve --workers N` does it), prometheus-client keeps every
value in a per-process file and `render()` merges the files of all workers.
Gauges then use "live" modes, and a worker that stops cleanly removes its
gauge files (`mark_process_dead`), so they count live workers only.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

NAMESPACE = "auth"
CONTENT_TYPE = CONTENT_TYPE_LATEST
# HTTP methods that get their own label value; anything else is "OTHER", so a
# client inventing methods cannot grow the number of series.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Login with bcrypt at cost 12 takes ~0.25 s; the buckets straddle that.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess_mode() -> bool:
    """True when prometheus-client was imported with PROMETHEUS_MULTIPROC_DIR set."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
    namespace=NAMESPACE,
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from the request's arrival to the end of its response body.",
    ["route", "method"],
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
AUTH_EVENTS = Counter(
    "security_events",
    "Security events (the audit log's event names): logins, refreshes, reuse, lockouts...",
    ["event"],
    namespace=NAMESPACE,
)
CACHE_LOOKUPS = Counter(
    "cache_lookups",
    "Cache reads by result (hit or miss).",
    ["result"],
    namespace=NAMESPACE,
)
DB_POOL = Gauge(
    "db_pool_connections",
    "Database connection pool: size, checked_out and overflow connections.",
    ["state"],
    namespace=NAMESPACE,
    multiprocess_mode="livesum",
)
STORE_DEGRADED = Gauge(
    "store_degraded",
    "1 while Redis is configured but unreachable and rate limits, lockouts and "
    "revocations fall back to per-process memory.",
    namespace=NAMESPACE,
    multiprocess_mode="livemax",
)
WORKERS = Gauge(
    "workers",
    "Worker processes serving requests (summed over live workers).",
    namespace=NAMESPACE,
    multiprocess_mode="livesum",
)
STORE_FAILOVERS = Counter(
    "store_failovers",
    "Times this service switched from Redis to its per-process fallback.",
    namespace=NAMESPACE,
)
PASSWORD_BREACH_CHECKS = Counter(
    "password_breach_checks",
    "New passwords checked against Pwned Passwords, by result: clean, breached, "
    "failed (no usable answer: accepted, checks paused) or paused (skipped, accepted).",
    ["result"],
    namespace=NAMESPACE,
)
CAPTCHA_CHECKS = Counter(
    "captcha_checks",
    "CAPTCHA tokens checked, by result: passed, refused (missing or rejected) "
    "or unavailable (the provider gave no usable answer; refused too).",
    ["result"],
    namespace=NAMESPACE,
)


# Labelled children, looked up once per label set: `labels()` costs more than `inc()`.
_request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe_request(*, route: str, method: str, status: int, seconds: float) -> None:
    key = (route, method, status)
    children = _request_children.get(key)
    if children is None:
        label = method if method in KNOWN_METHODS else "OTHER"
        children = (
            HTTP_REQUESTS.labels(route, label, str(status)),
            HTTP_LATENCY.labels(route, label),
        )
        # Bounded: routes are templates, methods and statuses a small set.
        if len(_request_children) < 10_000:
            _request_children[key] = children
    children[0].inc()
    children[1].observe(seconds)


def auth_event(event: str) -> None:
    """Count one security event. `event` must come from a fixed set (the audit event names)."""
    AUTH_EVENTS.labels(event).inc()


# Fixed label sets, looked up once (and so exported as 0 before the first check).
_BREACH_RESULTS = {
    r: PASSWORD_BREACH_CHECKS.labels(r) for r in ("clean", "breached", "failed", "paused")
}
_CAPTCHA_RESULTS = {r: CAPTCHA_CHECKS.labels(r) for r in ("passed", "refused", "unavailable")}


def password_breach_check(result: str) -> None:
    """`result`: clean, breached, failed or paused."""
    _BREACH_RESULTS[result].inc()


def captcha_check(result: str) -> None:
    """`result`: passed, refused or unavailable."""
    _CAPTCHA_RESULTS[result].inc()


def cache_lookup(*, hit: bool) -> None:
    CACHE_LOOKUPS.labels("hit" if hit else "miss").inc()


def set_pool(*, size: int, checked_out: int, overflow: int) -> None:
    DB_POOL.labels("size").set(size)
    DB_POOL.labels("checked_out").set(checked_out)
    DB_POOL.labels("overflow").set(overflow)


def set_store_degraded(degraded: bool) -> None:
    STORE_DEGRADED.set(1 if degraded else 0)


def store_failover() -> None:
    STORE_FAILOVERS.inc()


def render() -> bytes:
    """The Prometheus text exposition of every metric (of every worker, in multi-process mode)."""
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def worker_started() -> None:
    WORKERS.set(1)


def process_stopped() -> None:
    """Forget this worker's live gauges (multi-process mode; called at shutdown)."""
    WORKERS.set(0)
    if multiprocess_mode():
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
