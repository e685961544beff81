"""Per-request context shared by middleware, handlers and log lines.

One context variable, set once per request by the request-id layer: every
variable set while serving a request makes later reads of the others slower,
so whatever else a request needs to carry goes on the same object.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.core.ratelimit import Decision


@dataclass(slots=True)
class RequestContext:
    request_id: str | None
    # Rate-limit decisions taken while serving the request, by the middleware
    # and by services (per account); the response reports the tightest.
    decisions: list[Decision] = field(default_factory=list)


request_context_var: ContextVar[RequestContext | None] = ContextVar("request", default=None)


def current_request_id() -> str | None:
    context = request_context_var.get()
    return None if context is None else context.request_id
