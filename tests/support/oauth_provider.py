"""A small Google + GitHub stand-in, reached over HTTP through the app's shared client.

It behaves like the real providers where the service depends on it: codes are
single use and bound to client, redirect URI and PKCE challenge; the token
endpoint checks the PKCE verifier (S256) and the client secret; GitHub answers
a bad code with 200 + {"error": ...}; Google returns an ID token with the nonce.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

BASE = "http://provider.test"
CLIENT = {
    "google": ("google-client", "google-secret"),
    "github": ("github-client", "github-secret"),
}

SETTINGS = {
    "GOOGLE_CLIENT_ID": CLIENT["google"][0],
    "GOOGLE_CLIENT_SECRET": CLIENT["google"][1],
    "GOOGLE_AUTHORIZE_URL": f"{BASE}/google/authorize",
    "GOOGLE_TOKEN_URL": f"{BASE}/google/token",
    "GOOGLE_USERINFO_URL": f"{BASE}/google/userinfo",
    "GITHUB_CLIENT_ID": CLIENT["github"][0],
    "GITHUB_CLIENT_SECRET": CLIENT["github"][1],
    "GITHUB_AUTHORIZE_URL": f"{BASE}/github/authorize",
    "GITHUB_TOKEN_URL": f"{BASE}/github/token",
    "GITHUB_API_URL": f"{BASE}/github/api",
}


@dataclass
class Identity:
    sub: str
    email: str | None
    email_verified: bool = True
    name: str | None = "Pat Provider"
    # GitHub only: the public profile email (may differ from the verified primary).
    public_email: str | None = None
    extra_emails: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Grant:
    provider: str
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    identity: Identity


class FakeProvider:
    def __init__(self) -> None:
        self.identity = {
            "google": Identity(sub="g-1001", email="pat.google@example.com"),
            "github": Identity(sub="4242", email="pat.github@example.org"),
        }
        self.codes: dict[str, Grant] = {}
        self.tokens: dict[str, tuple[str, Identity]] = {}
        self.fail: dict[str, int] = {}  # path suffix -> status to answer with
        self.wrong_nonce = False
        self.token_requests: list[dict[str, str]] = []
        self.app = Starlette(
            routes=[
                Route("/{provider}/authorize", self.authorize),
                Route("/google/token", self.google_token, methods=["POST"]),
                Route("/google/userinfo", self.google_userinfo),
                Route("/github/token", self.github_token, methods=["POST"]),
                Route("/github/api/user", self.github_user),
                Route("/github/api/user/emails", self.github_emails),
            ]
        )

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app)

    def _failure(self, request: Request) -> Response | None:
        for suffix, status in self.fail.items():
            if request.url.path.endswith(suffix):
                return JSONResponse({"error": "server_error"}, status_code=status)
        return None

    async def authorize(self, request: Request) -> Response:
        """The user signs in and consents; the browser goes back with a code."""
        provider = request.path_params["provider"]
        query = request.query_params
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = Grant(
            provider=provider,
            client_id=query["client_id"],
            redirect_uri=query["redirect_uri"],
            challenge=query["code_challenge"],
            nonce=query.get("nonce"),
            identity=self.identity[provider],
        )
        params = urlencode({"code": code, "state": query["state"]})
        return RedirectResponse(f"{query['redirect_uri']}?{params}", status_code=302)

    async def _redeem(self, request: Request, provider: str) -> Grant | str:
        form = dict(await request.form())
        self.token_requests.append({k: str(v) for k, v in form.items()})
        grant = self.codes.pop(str(form.get("code")), None)
        client_id, secret = CLIENT[provider]
        if grant is None or grant.provider != provider:
            return "bad_verification_code"
        if form.get("client_id") != client_id or form.get("client_secret") != secret:
            return "invalid_client"
        if form.get("redirect_uri") != grant.redirect_uri:
            return "redirect_uri_mismatch"
        verifier = str(form.get("code_verifier", ""))
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
            return "invalid_grant"  # PKCE verifier does not match the challenge
        return grant

    async def google_token(self, request: Request) -> Response:
        if failed := self._failure(request):
            return failed
        grant = await self._redeem(request, "google")
        if isinstance(grant, str):
            return JSONResponse({"error": grant}, status_code=400)
        access = secrets.token_urlsafe(16)
        self.tokens[access] = ("google", grant.identity)
        now = int(time.time())
        id_token = jwt.encode(
            {
                "iss": "https://accounts.google.com",
                "aud": grant.client_id,
                "sub": grant.identity.sub,
                "nonce": "not-the-nonce" if self.wrong_nonce else grant.nonce,
                "iat": now,
                "exp": now + 3600,
                "email": grant.identity.email,
            },
            secrets.token_bytes(32),
            algorithm="HS256",
        )
        body = {"access_token": access, "id_token": id_token, "token_type": "Bearer"}
        return JSONResponse({**body, "expires_in": 3599})

    def _identity(self, request: Request, provider: str) -> Identity | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        found = self.tokens.get(token)
        return found[1] if found and found[0] == provider else None

    async def google_userinfo(self, request: Request) -> Response:
        if failed := self._failure(request):
            return failed
        identity = self._identity(request, "google")
        if identity is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse(
            {
                "sub": identity.sub,
                "email": identity.email,
                "email_verified": identity.email_verified,
                "name": identity.name,
            }
        )

    async def github_token(self, request: Request) -> Response:
        if failed := self._failure(request):
            return failed
        grant = await self._redeem(request, "github")
        if isinstance(grant, str):
            return JSONResponse({"error": grant})  # GitHub says 200 even then
        access = secrets.token_urlsafe(16)
        self.tokens[access] = ("github", grant.identity)
        return JSONResponse({"access_token": access, "token_type": "bearer", "scope": "user:email"})

    async def github_user(self, request: Request) -> Response:
        if failed := self._failure(request):
            return failed
        identity = self._identity(request, "github")
        if identity is None:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse(
            {
                "id": int(identity.sub),
                "login": "pat",
                "name": identity.name,
                "email": identity.public_email,
            }
        )

    async def github_emails(self, request: Request) -> Response:
        if failed := self._failure(request):
            return failed
        identity = self._identity(request, "github")
        if identity is None:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        emails = [*identity.extra_emails]
        if identity.email:
            emails.append(
                {"email": identity.email, "primary": True, "verified": identity.email_verified}
            )
        return JSONResponse(emails)


class TimeoutOn(httpx.AsyncBaseTransport):
    """Wraps a transport; requests whose path ends with `suffix` time out."""

    def __init__(self, inner: httpx.AsyncBaseTransport, suffix: str) -> None:
        self.inner = inner
        self.suffix = suffix

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(self.suffix):
            raise httpx.ReadTimeout("the provider did not answer", request=request)
        return await self.inner.handle_async_request(request)
