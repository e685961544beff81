"""What the login flow needs from a provider: an authorize URL and a verified profile."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx


class ProviderError(Exception):
    """The provider refused, failed, timed out or answered something unusable."""


@dataclass(frozen=True, slots=True)
class ProviderProfile:
    """Who the provider says the user is. `email_verified` is the provider's word."""

    provider: str
    user_id: str
    email: str | None
    email_verified: bool
    name: str | None = None


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    state: str
    code_challenge: str
    nonce: str
    redirect_uri: str


class Provider(Protocol):
    name: str

    def authorize_url(self, request: AuthorizationRequest) -> str: ...

    async def fetch_profile(
        self, *, code: str, code_verifier: str, nonce: str, redirect_uri: str
    ) -> ProviderProfile:
        """Exchange the authorization code and read the user's profile."""
        ...


async def json_call(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Any:
    """One provider call; any failure (network, timeout, status, body) is a ProviderError."""
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise ProviderError(f"{type(exc).__name__} calling the provider") from exc
    if response.status_code != 200:
        raise ProviderError(f"provider answered {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderError("provider answered something that is not JSON") from exc
