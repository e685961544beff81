"""GitHub: OAuth app authorization code flow with PKCE S256; the verified primary email."""

from __future__ import annotations

from typing import Any

import httpx

from app.core.clock import Clock
from app.services.oauth.base import (
    FlowSecrets,
    OAuthProvider,
    ProviderError,
    ProviderIdentity,
    call,
    clean_name,
    require_str,
)

API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


def primary_email(emails: Any) -> tuple[str | None, bool]:
    """The primary address from `/user/emails` and whether GitHub has verified it.

    Only the primary address counts: a verified secondary address is not
    what the user signs in with, and the profile's public `email` field
    says nothing about verification.
    """
    if not isinstance(emails, list):
        raise ProviderError("malformed_body", stage="emails")
    for entry in emails:
        if isinstance(entry, dict) and entry.get("primary") is True:
            address = entry.get("email")
            if isinstance(address, str) and address:
                return address, entry.get("verified") is True
    return None, False


class GitHubProvider(OAuthProvider):
    name = "github"
    scope = "read:user user:email"

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        authorize_url: str,
        token_url: str,
        api_url: str,
    ) -> None:
        super().__init__(
            client_id=client_id, client_secret=client_secret, authorize_url=authorize_url
        )
        self._token_url = token_url
        self._api_url = api_url.rstrip("/")

    async def fetch_identity(
        self,
        http: httpx.AsyncClient,
        clock: Clock,
        *,
        code: str,
        secrets: FlowSecrets,
        redirect_uri: str,
    ) -> ProviderIdentity:
        tokens = await call(
            http,
            "token",
            "POST",
            self._token_url,
            data={
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": secrets.code_verifier,
            },
            headers={"Accept": "application/json"},
        )
        if isinstance(tokens, dict) and "error" in tokens:
            # GitHub reports a bad code or verifier with 200 and an `error` field.
            raise ProviderError("token_refused", stage="token")
        headers = {
            **API_HEADERS,
            "Authorization": f"Bearer {require_str(tokens, 'access_token', 'token')}",
        }
        user = await call(http, "user", "GET", f"{self._api_url}/user", headers=headers)
        user_id = user.get("id") if isinstance(user, dict) else None
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise ProviderError("missing_field", stage="user", field="id")
        emails = await call(http, "emails", "GET", f"{self._api_url}/user/emails", headers=headers)
        email, verified = primary_email(emails)
        return ProviderIdentity(
            provider=self.name,
            subject=str(user_id),
            email=email,
            email_verified=verified,
            name=clean_name(user.get("name")) or clean_name(user.get("login")),
        )
