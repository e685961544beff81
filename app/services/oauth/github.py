"""GitHub sign-in: OAuth authorization code flow with PKCE; the email must be the
verified primary address from /user/emails."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from app.services.oauth.providers import (
    AuthorizationRequest,
    ProviderError,
    ProviderProfile,
    json_call,
)

API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


class GitHubProvider:
    name = "github"

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        client_id: str,
        client_secret: str,
        authorize_url: str,
        token_url: str,
        api_url: str,
    ) -> None:
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._authorize_url = authorize_url
        self._token_url = token_url
        self._api_url = api_url.rstrip("/")

    def authorize_url(self, request: AuthorizationRequest) -> str:
        params = {
            "client_id": self._client_id,
            "redirect_uri": request.redirect_uri,
            "scope": "read:user user:email",
            "state": request.state,
            "code_challenge": request.code_challenge,
            "code_challenge_method": "S256",
            "allow_signup": "true",
        }
        return f"{self._authorize_url}?{urlencode(params)}"

    async def fetch_profile(
        self, *, code: str, code_verifier: str, nonce: str, redirect_uri: str
    ) -> ProviderProfile:
        tokens = await json_call(
            self._http,
            "POST",
            self._token_url,
            data={
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
            headers={"Accept": "application/json"},
        )
        # GitHub answers 200 with {"error": ...} for a bad code.
        if not isinstance(tokens, dict) or not isinstance(tokens.get("access_token"), str):
            raise ProviderError("no access token in the token response")
        headers = {**API_HEADERS, "Authorization": f"Bearer {tokens['access_token']}"}
        user = await json_call(self._http, "GET", f"{self._api_url}/user", headers=headers)
        emails = await json_call(self._http, "GET", f"{self._api_url}/user/emails", headers=headers)
        if not isinstance(user, dict) or "id" not in user or not isinstance(emails, list):
            raise ProviderError("unexpected profile")
        primary = next(
            (e for e in emails if isinstance(e, dict) and e.get("primary") is True), None
        )
        email = primary.get("email") if primary else None
        return ProviderProfile(
            provider=self.name,
            user_id=str(user["id"]),
            email=email if isinstance(email, str) else None,
            email_verified=bool(primary and primary.get("verified") is True),
            name=user.get("name") if isinstance(user.get("name"), str) else None,
        )
