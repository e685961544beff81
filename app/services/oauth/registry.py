"""The providers this deployment offers: those with a client id and secret."""

from __future__ import annotations

from app.services.context import ServiceContext
from app.services.oauth.github import GitHubProvider
from app.services.oauth.google import GoogleProvider
from app.services.oauth.providers import Provider


def configured_providers(ctx: ServiceContext) -> dict[str, Provider]:
    settings = ctx.settings
    providers: dict[str, Provider] = {}
    if settings.GOOGLE_CLIENT_ID and settings.GOOGLE_CLIENT_SECRET:
        providers["google"] = GoogleProvider(
            http=ctx.http,
            client_id=settings.GOOGLE_CLIENT_ID,
            client_secret=settings.GOOGLE_CLIENT_SECRET.get_secret_value(),
            authorize_url=settings.GOOGLE_AUTHORIZE_URL,
            token_url=settings.GOOGLE_TOKEN_URL,
            userinfo_url=settings.GOOGLE_USERINFO_URL,
        )
    if settings.GITHUB_CLIENT_ID and settings.GITHUB_CLIENT_SECRET:
        providers["github"] = GitHubProvider(
            http=ctx.http,
            client_id=settings.GITHUB_CLIENT_ID,
            client_secret=settings.GITHUB_CLIENT_SECRET.get_secret_value(),
            authorize_url=settings.GITHUB_AUTHORIZE_URL,
            token_url=settings.GITHUB_TOKEN_URL,
            api_url=settings.GITHUB_API_URL,
        )
    return providers
