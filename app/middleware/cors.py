"""CORS limited to BACKEND_CORS_ORIGINS; refused preflights answer in the error format."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

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
