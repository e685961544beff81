"""Counts and times every HTTP request for /metrics, labelled by route template."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import metrics
from app.middleware.request_id import route_template


class MetricsMiddleware:
    """Pure ASGI: one counter increment and one histogram observation per request.

    Sits just inside the request-id layer, so an unhandled error (which that
    layer turns into the 500 body) is still counted as a 500.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            metrics.observe_request(
                route=route_template(scope),
                method=scope["method"],
                status=status,
                seconds=time.perf_counter() - start,
            )
