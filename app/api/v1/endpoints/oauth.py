"""Social login with Google and GitHub: initiate, callback, exchange."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Query, status
from fastapi.responses import RedirectResponse

from app.api.responses import JSON_BODY, errors
from app.api.routing import AppRoute
from app.config import Settings
from app.dependencies import ClientDep, ContextDep, SessionDep
from app.schemas.auth import TokenPair
from app.schemas.oauth import ExchangeIn, ProviderOut
from app.services.oauth.base import OAUTH_PATH
from app.services.oauth.flow import OAuthService

router = APIRouter(prefix="/oauth", tags=["oauth"], route_class=AppRoute)

# Holds the random value that binds a flow's state to this browser (login CSRF defence).
BINDING_COOKIE = "oauth_binding"
BindingCookie = Annotated[
    str | None,
    Cookie(alias=BINDING_COOKIE, include_in_schema=False),
]
REDIRECT: dict[int | str, dict[str, Any]] = {
    302: {"description": "Redirect (see `Location`)"},
}


def _cookie_options(settings: Settings) -> dict[str, Any]:
    return {
        "path": OAUTH_PATH,
        "secure": settings.BACKEND_BASE_URL.startswith("https://"),
        "httponly": True,
        "samesite": "lax",
    }


@router.get("/providers", responses=errors(429))
async def list_providers(ctx: ContextDep) -> list[ProviderOut]:
    """The configured social login providers and where to start each."""
    return OAuthService(ctx).list_providers()


@router.get(
    "/{provider}/initiate",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    responses={**REDIRECT, **errors(400, 404)},
)
async def initiate(
    provider: str,
    ctx: ContextDep,
    binding: BindingCookie = None,
    redirect_to: Annotated[
        str | None, Query(description="Where the frontend wants to land: a path or a URL on it")
    ] = None,
) -> RedirectResponse:
    """Send the browser to the provider's sign-in page."""
    started = await OAuthService(ctx).initiate(provider, redirect_to=redirect_to, binding=binding)
    response = RedirectResponse(started.location, status_code=status.HTTP_302_FOUND)
    response.set_cookie(
        BINDING_COOKIE,
        started.binding,
        max_age=started.binding_max_age,
        **_cookie_options(ctx.settings),
    )
    return response


@router.get(
    "/{provider}/callback",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    responses={**REDIRECT, **errors(404)},
)
async def callback(
    provider: str,
    db: SessionDep,
    ctx: ContextDep,
    client: ClientDep,
    binding: BindingCookie = None,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> RedirectResponse:
    """The provider sends the browser here; it goes on to the frontend with `code` or `error`."""
    location = await OAuthService(ctx).callback(
        db, provider, code=code, state=state, error=error, binding=binding, client=client
    )
    # The binding cookie stays (at most 10 minutes): other tabs may have flows in progress.
    return RedirectResponse(location, status_code=status.HTTP_302_FOUND)


@router.post("/exchange", responses=errors(400, 403, *JSON_BODY))
async def exchange(
    body: ExchangeIn, db: SessionDep, ctx: ContextDep, client: ClientDep
) -> TokenPair:
    """Trade the one-time code from the callback for an access and a refresh token."""
    return await OAuthService(ctx).exchange(db, code=body.code, client=client)
