"""A local OAuth provider (Google and GitHub endpoints) reached over HTTP.

The app's shared HTTP client is pointed at this ASGI app through
`http_transport`, and the tests' "browser" visits its authorize pages, so a
whole sign-in runs without the internet. Like the real providers, it checks
the client credentials, the redirect URI and the PKCE verifier (S256), and
spends each authorization code once. Tests change what it answers through
its attributes.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

GOOGLE_CLIENT_ID = "google-client-id.apps.example"
GOOGLE_CLIENT_SECRET = "google-client-secret"
GITHUB_CLIENT_ID = "github-client-id"
GITHUB_CLIENT_SECRET = "github-client-secret"
GOOGLE_HOST = "http://google.test"
GITHUB_HOST = "http://github.test"
GITHUB_API = "http://api.github.test"
ID_TOKEN_KEY = "fake-google-signing-key-0123456789abcdef"

SETTINGS: dict[str, Any] = {
    "GOOGLE_CLIENT_ID": GOOGLE_CLIENT_ID,
    "GOOGLE_CLIENT_SECRET": GOOGLE_CLIENT_SECRET,
    "GITHUB_CLIENT_ID": GITHUB_CLIENT_ID,
    "GITHUB_CLIENT_SECRET": GITHUB_CLIENT_SECRET,
    "GOOGLE_AUTHORIZE_URL": f"{GOOGLE_HOST}/o/oauth2/v2/auth",
    "GOOGLE_TOKEN_URL": f"{GOOGLE_HOST}/token",
    "GOOGLE_USERINFO_URL": f"{GOOGLE_HOST}/v1/userinfo",
    "GITHUB_AUTHORIZE_URL": f"{GITHUB_HOST}/login/oauth/authorize",
    "GITHUB_TOKEN_URL": f"{GITHUB_HOST}/login/oauth/access_token",
    "GITHUB_API_URL": GITHUB_API,
}

# Route names, for `fail` and `timeout`.
GOOGLE_TOKEN = "google_token"
GOOGLE_USERINFO = "google_userinfo"
GITHUB_TOKEN = "github_token"
GITHUB_USER = "github_user"
GITHUB_EMAILS = "github_emails"
_PATHS = {
    "/token": GOOGLE_TOKEN,
    "/v1/userinfo": GOOGLE_USERINFO,
    "/login/oauth/access_token": GITHUB_TOKEN,
    "/user": GITHUB_USER,
    "/user/emails": GITHUB_EMAILS,
}


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class Grant:
    """An authorization code the provider issued, and what it was bound to."""

    provider: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    google_user: dict[str, Any]
    github_user: dict[str, Any]
    github_emails: Any


@dataclass
class FakeProvider:
    now: Callable[[], float] = time.time
    google_user: dict[str, Any] = field(default_factory=dict)
    github_user: dict[str, Any] = field(default_factory=dict)
    github_emails: Any = field(default_factory=list)  # a list, unless a test breaks it
    # route name -> HTTP status to answer with instead
    fail: dict[str, int] = field(default_factory=dict)
    # route names whose requests time out
    timeout: set[str] = field(default_factory=set)
    # route names that answer 200 with a body that is not JSON
    garbage: set[str] = field(default_factory=set)
    # extra or replaced claims in the next ID tokens
    id_token_claims: dict[str, Any] = field(default_factory=dict)
    # what the provider redirects back with instead of a code (e.g. "access_denied")
    deny_with: str | None = None
    grants: dict[str, Grant] = field(default_factory=dict)
    access_tokens: dict[str, Grant] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    token_failures: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/o/oauth2/v2/auth", self.google_authorize),
                Route("/token", self.google_token, methods=["POST"]),
                Route("/v1/userinfo", self.google_userinfo),
                Route("/login/oauth/authorize", self.github_authorize),
                Route("/login/oauth/access_token", self.github_token, methods=["POST"]),
                Route("/user", self.github_api_user),
                Route("/user/emails", self.github_api_emails),
            ]
        )

    # Test-facing helpers ---------------------------------------------------

    def as_google(
        self, sub: str, email: str | None, *, verified: bool = True, name: str = "Ada Lovelace"
    ) -> None:
        self.google_user = {"sub": sub, "name": name}
        if email is not None:
            self.google_user.update(email=email, email_verified=verified)

    def as_github(
        self,
        user_id: int,
        email: str | None,
        *,
        verified: bool = True,
        name: str | None = "Ada Lovelace",
        others: list[dict[str, Any]] | None = None,
    ) -> None:
        self.github_user = {"id": user_id, "login": f"user{user_id}", "name": name, "email": None}
        primary = (
            [{"email": email, "primary": True, "verified": verified, "visibility": "private"}]
            if email is not None
            else []
        )
        self.github_emails = (others or []) + primary

    @property
    def transport(self) -> httpx.AsyncBaseTransport:
        return _Transport(self)

    # Authorization pages (visited by the browser) ---------------------------

    def _authorize(self, request: Request, provider: str, client_id: str) -> Response:
        params = dict(request.query_params)
        self.authorize_requests.append(params)
        redirect_uri = params.get("redirect_uri", "")
        if (
            params.get("client_id") != client_id
            or params.get("response_type") != "code"
            or params.get("code_challenge_method") != "S256"
            or not params.get("code_challenge")
            or not redirect_uri
        ):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        back: dict[str, str] = {"state": params.get("state", "")}
        if self.deny_with:
            back["error"] = self.deny_with
        else:
            code = secrets.token_urlsafe(24)
            self.grants[code] = Grant(
                provider=provider,
                client_id=client_id,
                redirect_uri=redirect_uri,
                code_challenge=params["code_challenge"],
                nonce=params.get("nonce"),
                google_user=copy.deepcopy(self.google_user),
                github_user=copy.deepcopy(self.github_user),
                github_emails=copy.deepcopy(self.github_emails),
            )
            back["code"] = code
        return RedirectResponse(f"{redirect_uri}?{urlencode(back)}", status_code=302)

    async def google_authorize(self, request: Request) -> Response:
        return self._authorize(request, "google", GOOGLE_CLIENT_ID)

    async def github_authorize(self, request: Request) -> Response:
        return self._authorize(request, "github", GITHUB_CLIENT_ID)

    # Token endpoints (called by the app) ------------------------------------

    async def _redeem(
        self, request: Request, provider: str, client_id: str, client_secret: str
    ) -> Grant | str:
        form = {key: str(value) for key, value in (await request.form()).items()}
        self.token_requests.append(form)
        if form.get("client_id") != client_id or form.get("client_secret") != client_secret:
            return "invalid_client"
        grant = self.grants.pop(form.get("code", ""), None)  # a code works once
        if grant is None or grant.provider != provider:
            return "invalid_grant"
        if form.get("redirect_uri") != grant.redirect_uri:
            return "redirect_uri_mismatch"
        if s256(form.get("code_verifier", "")) != grant.code_challenge:
            return "invalid_code_verifier"
        return grant

    def _issue_access_token(self, grant: Grant) -> str:
        token = secrets.token_urlsafe(24)
        self.access_tokens[token] = grant
        return token

    async def google_token(self, request: Request) -> Response:
        grant = await self._redeem(request, "google", GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET)
        if isinstance(grant, str):
            self.token_failures.append(grant)
            return JSONResponse({"error": "invalid_grant", "error_description": grant}, 400)
        now = int(self.now())
        claims = {
            "iss": "https://accounts.google.com",
            "aud": GOOGLE_CLIENT_ID,
            "azp": GOOGLE_CLIENT_ID,
            "sub": grant.google_user.get("sub"),
            "iat": now,
            "exp": now + 3600,
            "nonce": grant.nonce,
        }
        for key in ("email", "email_verified"):
            if key in grant.google_user:
                claims[key] = grant.google_user[key]
        claims.update(self.id_token_claims)
        id_token = jwt.encode(claims, ID_TOKEN_KEY, algorithm="HS256")
        return JSONResponse(
            {
                "access_token": self._issue_access_token(grant),
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": "openid email profile",
                "id_token": id_token,
            }
        )

    async def github_token(self, request: Request) -> Response:
        grant = await self._redeem(request, "github", GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET)
        if isinstance(grant, str):
            self.token_failures.append(grant)
            # GitHub answers 200 with an `error` field.
            return JSONResponse({"error": "bad_verification_code", "error_description": grant})
        return JSONResponse(
            {
                "access_token": self._issue_access_token(grant),
                "token_type": "bearer",
                "scope": "read:user,user:email",
            }
        )

    # Resource endpoints -----------------------------------------------------

    def _bearer(self, request: Request) -> Grant | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return None
        return self.access_tokens.get(header.removeprefix("Bearer "))

    async def google_userinfo(self, request: Request) -> Response:
        grant = self._bearer(request)
        if grant is None:
            return JSONResponse({"error": "invalid_token"}, 401)
        return JSONResponse(grant.google_user)

    async def github_api_user(self, request: Request) -> Response:
        grant = self._bearer(request)
        if grant is None:
            return JSONResponse({"message": "Bad credentials"}, 401)
        return JSONResponse(grant.github_user)

    async def github_api_emails(self, request: Request) -> Response:
        grant = self._bearer(request)
        if grant is None:
            return JSONResponse({"message": "Bad credentials"}, 401)
        return JSONResponse(grant.github_emails)


class _Transport(httpx.AsyncBaseTransport):
    """The provider over HTTP, with failures and timeouts injected per route."""

    def __init__(self, provider: FakeProvider) -> None:
        self.provider = provider
        self.inner = httpx.ASGITransport(app=provider.app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        name = _PATHS.get(request.url.path, request.url.path)
        self.provider.calls.append(name)
        if name in self.provider.timeout:
            raise httpx.ReadTimeout("timed out", request=request)
        if name in self.provider.garbage:
            return httpx.Response(200, text="<html>maintenance</html>")
        status = self.provider.fail.get(name)
        if status is not None:
            if 300 <= status < 400:
                return httpx.Response(status, headers={"Location": "http://evil.test/"})
            return httpx.Response(status, json={"error": "server_error"})
        return await self.inner.handle_async_request(request)
