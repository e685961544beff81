"""Dependencies as Annotated aliases, declared once and used everywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from app.config import Settings
from app.core.jwt import InvalidAccessToken
from app.errors import Forbidden, NotAuthenticated
from app.models import AuditEvent, Role
from app.services import audit
from app.services.context import ClientInfo, ServiceContext
from app.services.principals import Principal
from app.services.sessions import authenticate
from app.utils.net import resolve_client_ip

USER_AGENT_MAX = 512

# auto_error=False: a missing token becomes our own 401 body; the scheme stays
# for the OpenAPI "Authorize" button, which logs in through /token.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


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


async def get_principal(
    token: Annotated[str | None, Depends(oauth2_scheme)], ctx: ContextDep
) -> Principal:
    if not token:
        raise NotAuthenticated()
    try:
        claims = ctx.access_tokens.decode(token)
    except InvalidAccessToken as exc:
        raise NotAuthenticated() from exc
    return await authenticate(ctx, claims)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


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
