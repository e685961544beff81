"""Structured logs: JSON lines in production, readable lines in development.

The app's own events (one per request, among others) go through structlog's
native path, which renders and writes a line without the standard library's
logging machinery: several times cheaper, which matters at one line per
request. Everything else (uvicorn, SQLAlchemy, httpx) goes through the
standard library and the same processors, so every line has one format.
Both write to whatever `sys.stderr` is at the moment of writing.

A redaction step blanks values under secret-looking keys as a last line of
defence; the code logs ids, never secrets, in the first place.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, MutableMapping
from json.encoder import c_encode_basestring_ascii, py_encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, TextIO

import structlog

from app.core.context import current_request_id

SECRET_KEYS = frozenset(
    {
        "password",
        "new_password",
        "current_password",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "secret",
        "code",
        "state",
        "api_key",
        "cookie",
    }
)


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in event.keys() & SECRET_KEYS:
        event[key] = "[redacted]"
    return event


def add_request_id(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    request_id = current_request_id()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


class StderrLogger:
    """structlog's output: one line to the current `sys.stderr`, flushed."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or "app"

    def msg(self, message: str) -> None:
        stream: TextIO = sys.stderr
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _logger_factory(*args: Any) -> StderrLogger:
    return StderrLogger(str(args[0]) if args else None)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that always writes to the current `sys.stderr`."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # the base class assigns it; ignored
        pass


class _RequestLog:
    """Writes the per-request line. In JSON mode it renders the line itself, exactly
    as structlog's JSON renderer would (`json.dumps` of the same fields), at a
    fraction of the cost; in console mode it uses structlog."""

    json = True
    enabled = True
    logger: Any = structlog.get_logger("app.request")

    def __init__(self) -> None:
        self._second = -1
        self._second_text = ""

    def write(
        self, *, method: str, route: str, status: int, duration_ms: float, client: str | None
    ) -> None:
        if not self.enabled:
            return
        if not self.json:
            self.logger.info(
                "request",
                method=method,
                route=route,
                status=status,
                duration_ms=duration_ms,
                client=client,
            )
            return
        request_id = current_request_id()
        client_text = "null" if client is None else _quote(client)
        line = (
            f'{{"method": {_quote(method)}, "route": {_quote(route)}, "status": {status:d}, '
            f'"duration_ms": {duration_ms!r}, "client": {client_text}, "event": "request", '
            + (f'"request_id": {_quote(request_id)}, ' if request_id is not None else "")
            + f'"level": "info", "logger": "app.request", "timestamp": "{self._timestamp()}"}}\n'
        )
        stream: TextIO = sys.stderr
        stream.write(line)
        stream.flush()

    def _timestamp(self) -> str:
        """UTC ISO 8601 with microseconds, as `datetime.isoformat`, the date and time
        formatted once per second."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        micro = int((now - second) * 1_000_000)
        return f"{self._second_text}.{micro:06d}Z" if micro else f"{self._second_text}Z"


# The escaper json.dumps itself uses for strings (ensure_ascii), in C when available.
_quote: Callable[[str], str] = c_encode_basestring_ascii or py_encode_basestring_ascii


request_log = _RequestLog()


def configure_logging(*, level: str, fmt: str, cache: bool = True) -> None:
    """Set up both paths. `cache=False` lets tests reconfigure loggers already in use."""
    request_log.json = fmt == "json"
    request_log.enabled = logging.getLevelName(level) <= logging.INFO
    shared: list[Any] = [
        add_request_id,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    json = fmt == "json"
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            *shared,
            *([structlog.processors.format_exc_info] if json else []),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=_logger_factory,
        cache_logger_on_first_use=cache,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = StderrHandler()
    handler.setFormatter(formatter)
    handler.set_name("app")
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != "app"] + [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    # The app writes its own request line (route template, request id, duration).
    logging.getLogger("uvicorn.access").disabled = True
    # Outbound request lines name provider URLs; our own events say what matters.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # With LOG_LEVEL=DEBUG, SQL statements are logged (the engine hides their
    # parameters), but never SQLAlchemy's DEBUG result rows nor aiosqlite's
    # DEBUG lines: those carry values (password hashes, token hashes, emails).
    debug = logging.getLevelName(level) == logging.DEBUG
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO if debug else logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
