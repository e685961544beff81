"""The refresh token in an HttpOnly cookie (SPEC §7.6), set and cleared in one place.

`AppRoute` hands every route whose response model includes `TokenPair` to
`wrap_endpoint` and `wrap_handler`: the `TokenPair` the endpoint returns is
captured on its way out and, in `cookie` and `both` modes, the answer carries
the cookie (in `cookie` mode the JSON's `refresh_token` is null). Routes that
read the cookie (`RefreshCookieDep`: refresh and logout) are wrapped too: they
clear it when they answer 401, and when they succeed without issuing a pair
(logout). A new sign-in route that declares `-> TokenPair` gets all of this
without a line of its own. In `body` mode (the default) nothing here runs
beyond one attribute lookup per request.
"""

from __future__ import annotations

import functools
import math
import re
import types
import typing
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from starlette.responses import Response

from app.config import Settings
from app.errors import AppError, Forbidden, InvalidRefreshToken
from app.schemas.auth import TokenPair

COOKIE_PATH = "/api/v1/auth"
_DEFAULT_PORTS = {"http": 80, "https": 443}
# What `secrets.token_urlsafe` produces; anything else is refused unread.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,512}")

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` as browsers send it in `Origin` (default port left out)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    suffix = f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{host}{suffix}"


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    """Name, flags and allowed origins of the refresh cookie, fixed by the settings."""

    name: str
    secure: bool
    cookie_only: bool
    origins: frozenset[str]

    @classmethod
    def of(cls, settings: Settings) -> CookiePolicy | None:
        """The policy for `settings`, or None in `body` mode."""
        if not settings.refresh_cookie_enabled:
            return None
        secure = settings.BACKEND_BASE_URL.lower().startswith("https://")
        # Only origins named exactly: a "*" entry never vouches for a cookie.
        named = [settings.BACKEND_BASE_URL, *settings.BACKEND_CORS_ORIGINS]
        origins = frozenset(o for o in map(origin_of, named) if o is not None)
        return cls(
            name="__Secure-refresh_token" if secure else "refresh_token",
            secure=secure,
            cookie_only=not settings.refresh_token_in_body,
            origins=origins,
        )

    def _header(self, value: str, max_age: int) -> str:
        flags = "; Secure" if self.secure else ""
        return (
            f"{self.name}={value}; Max-Age={max_age}; Path={COOKIE_PATH}; "
            f"HttpOnly; SameSite=Strict{flags}"
        )

    def set_header(self, token: str, max_age: int) -> str:
        return self._header(token, max(max_age, 0))

    def clear_header(self) -> str:
        return self._header("", 0)

    def allows(self, origin: str | None) -> bool:
        return origin is not None and origin_of(origin) in self.origins


def policy_of(request: Request) -> CookiePolicy | None:
    policy: CookiePolicy | None = getattr(request.app.state, "refresh_cookie", None)
    return policy


# ---------------------------------------------------------------- reading


def _cookie_values(request: Request, name: str) -> list[str]:
    """Every value the request sends under `name` (Starlette's parser keeps only one)."""
    values = []
    for header in request.headers.getlist("cookie"):
        for chunk in header.split(";"):
            key, sep, value = chunk.partition("=")
            if sep and key.strip() == name:
                values.append(value.strip())
    return values


@dataclass(slots=True)
class RefreshCookie:
    """The refresh cookie of one request, read only when the body carries no token."""

    request: Request
    policy: CookiePolicy | None

    @property
    def enabled(self) -> bool:
        return self.policy is not None

    def token(self) -> str | None:
        """The cookie's token, or None when there is no cookie (or in `body` mode).

        403 `forbidden` unless `Origin` is allowed; 401 `invalid_refresh_token` for
        two cookies of the name or one that cannot be a token. Nothing is looked
        up before these checks pass, so a refused request spends nothing.
        """
        if self.policy is None:
            return None
        values = _cookie_values(self.request, self.policy.name)
        if not values:
            return None
        if not self.policy.allows(self.request.headers.get("origin")):
            raise Forbidden("The refresh cookie is accepted only from an allowed origin")
        if len(values) != 1 or not _TOKEN_SHAPE.fullmatch(values[0]):
            raise InvalidRefreshToken()
        return values[0]


async def refresh_cookie(request: Request) -> RefreshCookie:
    return RefreshCookie(request, policy_of(request))


RefreshCookieDep = Annotated[RefreshCookie, Depends(refresh_cookie)]


# ---------------------------------------------------------------- writing


@dataclass(slots=True)
class _Issued:
    cookie_only: bool
    pair: TokenPair | None = None


_ISSUED: ContextVar[_Issued | None] = ContextVar("issued_token_pair", default=None)


def issues_token_pair(annotation: Any) -> bool:
    """Whether a response model is `TokenPair`, or a union or list that holds one."""
    if annotation is TokenPair:
        return True
    if isinstance(annotation, type) and issubclass(annotation, TokenPair):
        return True
    origin = typing.get_origin(annotation)
    if origin is None or origin is types.NoneType:
        return False
    return any(issues_token_pair(arg) for arg in typing.get_args(annotation))


def reads_cookie(dependant: Dependant) -> bool:
    """Whether the route (or one of its dependencies) reads the refresh cookie."""
    return any(sub.call is refresh_cookie or reads_cookie(sub) for sub in dependant.dependencies)


def wrap_endpoint(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Capture the `TokenPair` an endpoint returns; in `cookie` mode, null its JSON token.

    `functools.wraps` keeps the endpoint's signature (FastAPI reads it through
    `__wrapped__`), so parameters and response model are those of the endpoint.
    """
    if getattr(endpoint, "_captures_token_pair", False):
        return endpoint

    @functools.wraps(endpoint)
    async def capturing(*args: Any, **kwargs: Any) -> Any:
        result = await endpoint(*args, **kwargs)
        issued = _ISSUED.get()
        if issued is not None and isinstance(result, TokenPair):
            issued.pair = result
            if issued.cookie_only:
                return result.model_copy(update={"refresh_token": None})
        return result

    capturing._captures_token_pair = True  # type: ignore[attr-defined]
    return capturing


def wrap_handler(handler: Handler, *, spends_cookie: bool) -> Handler:
    """Set the cookie from a captured pair; clear it after a cookie route's 401 or logout."""

    async def with_cookie(request: Request) -> Response:
        policy = policy_of(request)
        if policy is None:
            return await handler(request)
        issued = _Issued(cookie_only=policy.cookie_only)
        reset = _ISSUED.set(issued)
        try:
            response = await handler(request)
        except AppError as exc:
            if spends_cookie and exc.status_code == 401:
                exc.headers = {**exc.headers, "Set-Cookie": policy.clear_header()}
            raise
        finally:
            _ISSUED.reset(reset)
        if issued.pair is not None and response.status_code < 300:
            now = request.app.state.ctx.clock.now()
            expires_at = issued.pair.session_expires_at
            max_age = 0 if expires_at is None else math.floor((expires_at - now).total_seconds())
            response.headers.append(
                "set-cookie", policy.set_header(issued.pair.refresh_token or "", max_age)
            )
        elif spends_cookie and response.status_code < 300:
            response.headers.append("set-cookie", policy.clear_header())
        return response

    return with_cookie
