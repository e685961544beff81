"""Dependencies as Annotated aliases, declared once and used everywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.base import SecurityBase
from fastapi.security.utils import get_authorization_scheme_param
from sqlmodel.ext.asyncio.session import AsyncSession

from app.config import Settings
from app.core.jwt import InvalidAccessToken
from app.errors import Forbidden, NotAuthenticated
from app.models import AuditEvent, Role
from app.services import audit
from app.services.api_keys import authenticate_key, is_api_key
from app.services.captcha import verify_captcha
from app.services.context import ClientInfo, ServiceContext
from app.services.principals import Principal
from app.services.sessions import authenticate
from app.utils.net import resolve_client_ip

USER_AGENT_MAX = 512


# Every dependency is `async def`: FastAPI runs plain functions in a thread pool,
# a thread hop per request for work that never blocks.
async def get_context(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[ServiceContext, Depends(get_context)]


async def get_settings_dep(ctx: ContextDep) -> Settings:
    return ctx.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_db(ctx: ContextDep) -> AsyncIterator[AsyncSession]:
    async with ctx.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_db)]


async def get_client(request: Request, ctx: ContextDep) -> ClientInfo:
    user_agent = request.headers.get("user-agent")
    return ClientInfo(
        ip=resolve_client_ip(request.scope, ctx.settings.trusted_proxy_networks),
        user_agent=user_agent[:USER_AGENT_MAX] if user_agent else None,
    )


ClientDep = Annotated[ClientInfo, Depends(get_client)]


async def require_captcha(
    ctx: ContextDep,
    client: ClientDep,
    x_captcha_token: Annotated[
        str | None,
        Header(
            alias="X-Captcha-Token",
            description="The CAPTCHA widget's token; required when the service has "
            "CAPTCHA on (else 400 `captcha_failed`)",
        ),
    ] = None,
) -> None:
    await verify_captcha(ctx, x_captcha_token, remote_ip=client.ip)


# For a route's `dependencies=[...]`: the public forms a bot would fill in.
CAPTCHA = Depends(require_captcha)


class BearerPrincipal(SecurityBase):
    """The caller named by the bearer access token, as one flat dependency.

    It is a security scheme in OpenAPI (the same as `OAuth2PasswordBearer`, so
    the "Authorize" button logs in through /token), but resolves the whole
    principal itself from the request: every nested dependency costs FastAPI a
    full solving pass, and this is the hottest path of the service. A missing
    or bad token becomes our own 401 body.
    """

    def __init__(self, *, allow_api_key: bool = False) -> None:
        bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
        self.model = bearer.model
        self.scheme_name = bearer.scheme_name
        self.allow_api_key = allow_api_key

    async def __call__(self, request: Request) -> Principal:
        scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
        if scheme.lower() != "bearer" or not token:
            raise NotAuthenticated()
        ctx: ServiceContext = request.app.state.ctx
        if is_api_key(token):
            principal = await authenticate_key(ctx, token)
            if not self.allow_api_key:
                await _refuse_api_key(request, ctx, principal)
            return principal
        try:
            claims = ctx.access_tokens.decode(token)
        except InvalidAccessToken as exc:
            raise NotAuthenticated() from exc
        return await authenticate(ctx, claims)


async def _refuse_api_key(request: Request, ctx: ServiceContext, principal: Principal) -> None:
    """A personal API key on a credential, session or admin route: 403, audited."""
    client = await get_client(request, ctx)
    async with ctx.sessionmaker() as db:
        audit.record(
            db,
            ctx.clock,
            AuditEvent.ACCESS_DENIED,
            user_id=principal.user.id,
            actor_id=principal.user.id,
            client=client,
            details={"api_key_id": str(principal.api_key_id), "reason": "api_key"},
        )
        await db.commit()
    raise Forbidden("API keys cannot be used here")


# The caller by access token only: personal API keys are refused (403). The
# default, so credential, session and admin routes (and any new route) are safe.
CurrentPrincipal = Annotated[Principal, Depends(BearerPrincipal())]
# The caller by access token or personal API key (`ak_...`): ordinary routes.
KeyOrTokenPrincipal = Annotated[Principal, Depends(BearerPrincipal(allow_api_key=True))]


class OptionalBearerPrincipal(BearerPrincipal):
    """The caller named by a bearer access token, or None when there is no valid one."""

    async def __call__(self, request: Request) -> Principal | None:  # type: ignore[override]
        try:
            return await super().__call__(request)
        except NotAuthenticated:
            return None


# The same security scheme in OpenAPI: the route decides what no token means.
OptionalPrincipal = Annotated[Principal | None, Depends(OptionalBearerPrincipal())]


async def require_admin(
    principal: CurrentPrincipal, db: SessionDep, ctx: ContextDep, client: ClientDep
) -> Principal:
    if principal.user.role != Role.ADMIN:
        audit.record(
            db,
            ctx.clock,
            AuditEvent.ACCESS_DENIED,
            user_id=principal.user.id,
            actor_id=principal.user.id,
            client=client,
            details={"required_role": Role.ADMIN.value},
        )
        await db.commit()
        raise Forbidden()
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]
