"""Local fakes of the Pwned Passwords range API and a CAPTCHA siteverify endpoint.

The app's shared HTTP client is pointed at them through `http_transport`, so
every call goes through the app's real HTTP code (timeouts, status checks,
parsing) without leaving the machine. Like the real services, the range API
answers every suffix under a prefix (padded with zero-count entries when asked
to) and siteverify reads a form and answers `{"success": ...}`. Tests change
what they answer through their attributes and read what they were sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass, field

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

PWNED_URL = "http://pwned.test"
CAPTCHA_URL = "http://captcha.test/siteverify"
CAPTCHA_SECRET = "0x4AAAAAAA-test-captcha-secret"
GOOD_TOKEN = "XXXX.DUMMY.TOKEN.XXXX"

# Known from breaches in this fake: password -> count. A count of 0 is what a
# padding entry looks like; it must not make a password "breached".
BREACHED = {"P@ssw0rd-from-a-breach": 52_000, "listed with a count of zero": 0}

SETTINGS = {
    "PASSWORD_BREACH_CHECK": True,
    "HIBP_API_URL": PWNED_URL,
}
CAPTCHA_SETTINGS = {
    "CAPTCHA_PROVIDER": "turnstile",
    "CAPTCHA_SECRET": CAPTCHA_SECRET,
    "CAPTCHA_VERIFY_URL": CAPTCHA_URL,
}


def sha1(password: str) -> str:
    return hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()


@dataclass
class Fault:
    """How a fake misbehaves: `status` instead of its answer, `body` as its answer,
    `timeout` (the client times out at once), or `hang` (never answers)."""

    status: int | None = None
    body: str | None = None
    timeout: bool = False
    hang: bool = False


@dataclass
class FakeServices:
    breached: dict[str, int] = field(default_factory=lambda: dict(BREACHED))
    tokens: set[str] = field(default_factory=lambda: {GOOD_TOKEN})
    pwned_fault: Fault | None = None
    captcha_fault: Fault | None = None
    # What the app sent: range requests (path and headers) and siteverify forms.
    range_requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    captcha_forms: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pwned = Starlette(routes=[Route("/range/{prefix}", self._range)])
        self.captcha = Starlette(routes=[Route("/siteverify", self._verify, methods=["POST"])])

    @property
    def transport(self) -> httpx.AsyncBaseTransport:
        return _Transport(self)

    async def _range(self, request: Request) -> Response:
        prefix = request.path_params["prefix"].upper()
        lines = [
            f"{digest[5:]}:{count}"
            for password, count in self.breached.items()
            if (digest := sha1(password)).startswith(prefix)
        ]
        if request.headers.get("add-padding") == "true":
            lines += [f"{secrets.token_hex(18)[:35].upper()}:0" for _ in range(800)]
        return PlainTextResponse("\r\n".join(lines))

    async def _verify(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        self.captcha_forms.append(form)
        ok = form.get("secret") == CAPTCHA_SECRET and form.get("response") in self.tokens
        body: dict[str, object] = {"success": ok}
        if not ok:
            body["error-codes"] = ["invalid-input-response"]
        return JSONResponse(body)


class _Transport(httpx.AsyncBaseTransport):
    def __init__(self, fakes: FakeServices) -> None:
        self.fakes = fakes
        self.apps = {
            httpx.URL(PWNED_URL).host: httpx.ASGITransport(app=fakes.pwned),
            httpx.URL(CAPTCHA_URL).host: httpx.ASGITransport(app=fakes.captcha),
        }

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host not in self.apps:
            raise httpx.ConnectError(f"no fake for {host}", request=request)
        pwned = host == httpx.URL(PWNED_URL).host
        if pwned:
            self.fakes.range_requests.append((request.url.path, dict(request.headers)))
        fault = self.fakes.pwned_fault if pwned else self.fakes.captcha_fault
        if fault is not None:
            if fault.hang:
                await asyncio.Event().wait()
            if fault.timeout:
                raise httpx.ReadTimeout("timed out", request=request)
            if fault.status is not None or fault.body is not None:
                return httpx.Response(
                    fault.status or 200,
                    text=fault.body if fault.body is not None else "",
                    headers={"content-type": "text/html"},
                )
        return await self.apps[host].handle_async_request(request)
