"""Request body cap (64 KiB), enforced before the body is parsed."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import ErrorCode, error_body
from app.middleware.responses import send_json

MAX_BODY_BYTES = 64 * 1024


class PayloadTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(413, "Request body too large")


class BodyLimitMiddleware:
    """Refuse a declared Content-Length over the cap at once; count streamed bytes otherwise.

    An overflow while the app reads raises an HTTPException(413), which the
    app's error handler renders; if it escapes, this layer answers itself.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        has_body = False
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await self._reject(send)
                    return
                has_body = declared != 0
            elif key == b"transfer-encoding":
                has_body = True
        if not has_body:
            # Nothing to count (an HTTP/1.1 request without either header has no body).
            await self.app(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except PayloadTooLarge:
            if started:
                raise
            await self._reject(send)

    @staticmethod
    async def _reject(send: Send) -> None:
        body = error_body("Request body too large", ErrorCode.PAYLOAD_TOO_LARGE)
        await send_json(send, 413, body, headers=[(b"connection", b"close")])
