"""Per-request context shared by middleware, handlers and log lines."""

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
