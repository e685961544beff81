"""Administration (role `admin` only): accounts, unlocks and the audit trail."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from app.api.params import PageNumber, PageSize
from app.api.responses import AUTHENTICATED, JSON_BODY, errors
from app.api.routing import AppRoute
from app.dependencies import AdminPrincipal, ClientDep, ContextDep, SessionDep, require_admin
from app.models import AuditEvent, Role
from app.schemas.admin import AuditPage, UserAdminUpdateIn, UserPage
from app.schemas.auth import MessageOut
from app.schemas.common import FilterDatetime
from app.schemas.users import UserOut
from app.services.admin import AdminService
from app.services.mfa import MfaService

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    route_class=AppRoute,
    dependencies=[Depends(require_admin)],
    responses=errors(*AUTHENTICATED, 403),
)


@router.get("/users")
async def list_users(
    db: SessionDep,
    ctx: ContextDep,
    email: Annotated[
        str | None, Query(max_length=320, description="Substring of the email")
    ] = None,
    role: Role | None = None,
    is_active: bool | None = None,
    page: PageNumber = 1,
    size: PageSize = 50,
) -> UserPage:
    """List accounts, optionally filtered by email substring, role and status."""
    return await AdminService(db, ctx).list_users(
        email=email, role=role, is_active=is_active, page=page, size=size
    )


@router.patch("/users/{user_id}", responses=errors(404, 409, *JSON_BODY))
async def update_user(
    user_id: uuid.UUID,
    body: UserAdminUpdateIn,
    admin: AdminPrincipal,
    db: SessionDep,
    ctx: ContextDep,
    client: ClientDep,
) -> UserOut:
    """Change an account's role or active flag (never the last active admin's)."""
    return await AdminService(db, ctx).update_user(
        admin, user_id, role=body.role, is_active=body.is_active, client=client
    )


@router.post("/users/{user_id}/unlock", responses=errors(404))
async def unlock_user(
    user_id: uuid.UUID, admin: AdminPrincipal, db: SessionDep, ctx: ContextDep, client: ClientDep
) -> MessageOut:
    """Lift a lockout after failed logins."""
    was_locked = await AdminService(db, ctx).unlock(admin, user_id, client=client)
    return MessageOut(detail="Account unlocked" if was_locked else "Account was not locked")


@router.post(
    "/users/{user_id}/mfa/reset",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(404),
)
async def reset_user_mfa(
    user_id: uuid.UUID, admin: AdminPrincipal, db: SessionDep, ctx: ContextDep, client: ClientDep
) -> None:
    """For a user who lost their authenticator: turn TOTP off, delete the recovery codes,
    sign out every session and mail the user."""
    await MfaService(db, ctx).admin_reset(admin, user_id, client)


@router.get("/audit")
async def audit_log(
    db: SessionDep,
    ctx: ContextDep,
    user_id: uuid.UUID | None = None,
    event: AuditEvent | None = None,
    since: Annotated[
        FilterDatetime | None, Query(description="ISO 8601; without offset, UTC")
    ] = None,
    page: PageNumber = 1,
    size: PageSize = 50,
) -> AuditPage:
    """Query the audit trail, newest first."""
    return await AdminService(db, ctx).audit_log(
        user_id=user_id, event=event.value if event else None, since=since, page=page, size=size
    )
