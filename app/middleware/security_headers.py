"""Security headers on every response, errors and 429s included (SPEC §5, §6)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.utils.net import IPNetwork, is_https

API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc load only their own assets from this service. ReDoc
# starts its search worker from a blob: URL and both inject inline styles.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"
DOCS_PATHS = ("/docs", "/redoc")
STATIC_PREFIX = "/static/"

_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # The legacy XSS auditor is gone from browsers and itself leaked data; OWASP advises 0.
    (b"x-xss-protection", b"0"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]

_API_HEADERS = [*_COMMON, (b"content-security-policy", API_CSP.encode())]
_DOCS_HEADERS = [*_COMMON, (b"content-security-policy", DOCS_CSP.encode())]
_HSTS_HEADER = (b"strict-transport-security", HSTS.encode())


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, trusted_proxies: tuple[IPNetwork, ...] = ()) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        is_docs = path in DOCS_PATHS or path.startswith(STATIC_PREFIX)
        extra = _DOCS_HEADERS if is_docs else _API_HEADERS
        if is_https(scope, self.trusted_proxies):
            extra = [*extra, _HSTS_HEADER]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() != b"content-security-policy"
                ]
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    # Tokens and personal data must never sit in a shared cache.
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)
