"""Social login with Google and GitHub."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Path, Query
from fastapi.responses import RedirectResponse

from app.api.responses import JSON_BODY, errors
from app.api.routing import AppRoute
from app.dependencies import ClientDep, ContextDep, SessionDep
from app.schemas.auth import TokenPair
from app.schemas.oauth import ExchangeIn, ProviderOut
from app.services.oauth.flow import OAUTH_PATH, STATE_TTL_SECONDS, OAuthService, Redirect

router = APIRouter(prefix="/oauth", tags=["oauth"], route_class=AppRoute)

BINDING_COOKIE = "oauth_binding"
ProviderName = Annotated[str, Path(max_length=32, examples=["github"])]
QueryValue = Annotated[str | None, Query(max_length=2048)]
Binding = Annotated[str | None, Cookie(alias=BINDING_COOKIE, max_length=128)]
REDIRECT: dict[int | str, dict[str, Any]] = {302: {"description": "Redirect (see `Location`)"}}


def _redirect(result: Redirect, *, secure: bool) -> RedirectResponse:
    response = RedirectResponse(result.location, status_code=302)
    if result.set_binding:
        response.set_cookie(
            BINDING_COOKIE,
            result.set_binding,
            max_age=STATE_TTL_SECONDS,
            path=OAUTH_PATH,
            httponly=True,
            samesite="lax",
            secure=secure,
        )
    elif result.clear_binding:
        response.delete_cookie(
            BINDING_COOKIE, path=OAUTH_PATH, httponly=True, samesite="lax", secure=secure
        )
    return response


@router.get("/providers", responses=errors(429))
async def list_providers(db: SessionDep, ctx: ContextDep) -> list[ProviderOut]:
    """The configured providers and where to start each login."""
    service = OAuthService(db, ctx)
    return [ProviderOut(name=n, authorize_url=service.initiate_url(n)) for n in service.providers]


@router.get(
    "/{provider}/initiate",
    response_class=RedirectResponse,
    status_code=302,
    responses={**REDIRECT, **errors(400, 404)},
)
async def initiate(
    provider: ProviderName,
    db: SessionDep,
    ctx: ContextDep,
    binding: Binding = None,
    redirect_to: QueryValue = None,
) -> RedirectResponse:
    """Send the browser to the provider; `redirect_to` must be on the frontend."""
    result = await OAuthService(db, ctx).initiate(
        provider, redirect_to=redirect_to, binding=binding
    )
    return _redirect(result, secure=ctx.settings.BACKEND_BASE_URL.startswith("https://"))


@router.get(
    "/{provider}/callback",
    response_class=RedirectResponse,
    status_code=302,
    responses={**REDIRECT, **errors(404)},
)
async def callback(
    provider: ProviderName,
    db: SessionDep,
    ctx: ContextDep,
    client: ClientDep,
    binding: Binding = None,
    code: QueryValue = None,
    state: QueryValue = None,
    error: QueryValue = None,
) -> RedirectResponse:
    """Where the provider sends the browser back; redirects to the frontend with a
    one-time `code`, or with `error=`."""
    result = await OAuthService(db, ctx).callback(
        provider, code=code, state=state, error=error, binding=binding, client=client
    )
    return _redirect(result, secure=ctx.settings.BACKEND_BASE_URL.startswith("https://"))


@router.post("/exchange", responses=errors(400, 403, *JSON_BODY))
async def exchange(
    body: ExchangeIn, db: SessionDep, ctx: ContextDep, client: ClientDep
) -> TokenPair:
    """Trade the one-time code from the callback for a token pair."""
    return await OAuthService(db, ctx).exchange(body.code, client)
