"""CORS limited to BACKEND_CORS_ORIGINS; refused preflights answer in the error format."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response

from app.errors import ErrorCode, error_body

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-Request-ID")
EXPOSED_HEADERS = (
    "X-Request-ID",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
)


class JSONCORSMiddleware(CORSMiddleware):
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
