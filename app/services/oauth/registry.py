"""The configured providers: a provider needs both a client id and a client secret."""

from __future__ import annotations

from app.config import Settings
from app.services.oauth.base import OAuthProvider
from app.services.oauth.github import GitHubProvider
from app.services.oauth.google import GoogleProvider


def configured_providers(settings: Settings) -> dict[str, OAuthProvider]:
    """Providers by name, in a stable order; unconfigured ones are absent."""
    providers: dict[str, OAuthProvider] = {}
    google_secret = settings.GOOGLE_CLIENT_SECRET
    if settings.GOOGLE_CLIENT_ID and google_secret and google_secret.get_secret_value():
        providers["google"] = GoogleProvider(
            client_id=settings.GOOGLE_CLIENT_ID,
            client_secret=google_secret.get_secret_value(),
            authorize_url=settings.GOOGLE_AUTHORIZE_URL,
            token_url=settings.GOOGLE_TOKEN_URL,
            userinfo_url=settings.GOOGLE_USERINFO_URL,
        )
    github_secret = settings.GITHUB_CLIENT_SECRET
    if settings.GITHUB_CLIENT_ID and github_secret and github_secret.get_secret_value():
        providers["github"] = GitHubProvider(
            client_id=settings.GITHUB_CLIENT_ID,
            client_secret=github_secret.get_secret_value(),
            authorize_url=settings.GITHUB_AUTHORIZE_URL,
            token_url=settings.GITHUB_TOKEN_URL,
            api_url=settings.GITHUB_API_URL,
        )
    return providers
