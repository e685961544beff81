"""Request id, the request log line, request metrics, and the last-resort 500."""

from __future__ import annotations

import os
import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import metrics
from app.core.context import RequestContext, request_context_var
from app.core.logging import request_log
from app.errors import internal_error_body
from app.middleware.responses import send_json
from app.utils.net import IPNetwork, resolve_client_ip

log = structlog.get_logger("app.request")
MAX_REQUEST_ID = 128
UNMATCHED = "<unmatched>"
# Set by a layer that answers before routing (the rate limiter's 429), so that
# the request line and metrics still name the route the request was for.
ROUTE_TEMPLATE_KEY = "app.route_template"


def _incoming_id(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"x-request-id":
            # Printable ASCII only, bounded: anything else could forge log lines.
            if 0 < len(value) <= MAX_REQUEST_ID and all(0x20 < b < 0x7F for b in value):
                return str(value.decode("ascii"))
            return None
    return None


def route_template(scope: Scope) -> str:
    """The matched route's path template (never the raw path: it may hold ids or secrets).

    FastAPI (0.165+) routes an included router's request to the route object as
    declared, whose `path` lacks the routers' prefixes; the full template is on
    the effective route context FastAPI keeps in the scope.
    """
    fastapi_scope = scope.get("fastapi")
    if isinstance(fastapi_scope, dict):
        context = fastapi_scope.get("effective_route_context")
        path = getattr(context, "path_format", None)
        if isinstance(path, str) and path:
            return path
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if "endpoint" not in scope:
        template: str = scope.get(ROUTE_TEMPLATE_KEY, UNMATCHED)
        return template
    # A mount (static files) or a plain Starlette route (/openapi.json). Under a
    # mount the rest of the path is the client's, so only the prefix is named;
    # a route without parameters matched its own text exactly.
    mount_prefix = str(scope.get("root_path", ""))[len(str(scope.get("app_root_path", ""))) :]
    if mount_prefix:
        return f"{mount_prefix}/{{path}}"
    if not scope.get("path_params"):
        return str(scope["path"])
    return UNMATCHED


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp, *, trusted_proxies: tuple[IPNetwork, ...] = ()) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or os.urandom(16).hex()
        token = request_context_var.set(RequestContext(request_id))
        header = (b"x-request-id", request_id.encode("ascii"))
        status = 500
        started = False
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled_error", route=route_template(scope), method=scope["method"])
            if not started:
                await _send_internal_error(send, request_id, header)
            status = 500
        finally:
            elapsed = time.perf_counter() - start
            route = route_template(scope)
            # One layer does both: a separate metrics layer would cost a call and
            # a send wrapper per request for the same two numbers.
            metrics.observe_request(
                route=route, method=scope["method"], status=status, seconds=elapsed
            )
            request_log.write(
                method=scope["method"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                client=resolve_client_ip(scope, self.trusted_proxies),
            )
            request_context_var.reset(token)


async def _send_internal_error(send: Send, request_id: str, header: tuple[bytes, bytes]) -> None:
    await send_json(send, 500, internal_error_body(request_id), headers=[header])
