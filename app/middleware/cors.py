"""CORS limited to BACKEND_CORS_ORIGINS; refused preflights answer in the error format."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import ErrorCode, error_body

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-Request-ID", "X-Captcha-Token")
EXPOSED_HEADERS = (
    "X-Request-ID",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
)


class JSONCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with JSON refusals and credentials for named origins only.

    With `credentials` (the refresh cookie's modes), answers to an origin named
    in the list carry `Access-Control-Allow-Credentials: true`; Starlette's own
    flag would add it to every origin's answers and, with `*`, echo any origin.
    A list holding `*` never gets credentials.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        allow_origins: Sequence[str] = (),
        credentials: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, allow_origins=allow_origins, **kwargs)
        named = credentials and "*" not in allow_origins
        self.credential_origins = frozenset(allow_origins if named else ())

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        if (
            message["type"] == "http.response.start"
            and self.credential_origins
            and request_headers.get("origin") in self.credential_origins
        ):
            MutableHeaders(scope=message).append("Access-Control-Allow-Credentials", "true")
        await super().send(message, send, request_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Without an Origin header there is nothing for CORS to do (same-origin,
        # server-to-server, probes): skip the header parsing and the send wrapper.
        if scope["type"] == "http" and not any(k == b"origin" for k, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            if request_headers.get("origin") in self.credential_origins:
                response.headers["Access-Control-Allow-Credentials"] = "true"
            return response
        headers = {
            key: value
            for key, value in response.headers.items()
            if key.lower() not in ("content-type", "content-length")
        }
        body = error_body(
            bytes(response.body).decode().replace("Disallowed", "CORS preflight refused:"),
            ErrorCode.CORS_REJECTED,
        )
        return JSONResponse(body, status_code=400, headers=headers)
