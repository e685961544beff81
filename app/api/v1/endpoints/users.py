"""The signed-in user's profile, password and sessions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app.api.responses import AUTHENTICATED, JSON_BODY, errors
from app.api.routing import AppRoute
from app.dependencies import (
    ClientDep,
    ContextDep,
    CurrentPrincipal,
    KeyOrTokenPrincipal,
    SessionDep,
)
from app.schemas.users import ChangePasswordIn, ProfileUpdateIn, SessionOut, UserOut
from app.services.passwords import PasswordService
from app.services.users import UserService, profile_json

router = APIRouter(
    prefix="/users", tags=["users"], route_class=AppRoute, responses=errors(*AUTHENTICATED)
)


@router.get("/profile", response_model=UserOut)
async def get_profile(principal: KeyOrTokenPrincipal) -> Response:
    """The current user."""
    # The hottest read of the service: the body is rendered once per user state
    # instead of validated and serialized again on every request.
    return Response(profile_json(principal.user), media_type="application/json")


@router.put("/profile", responses=errors(*JSON_BODY))
async def update_profile(
    body: ProfileUpdateIn,
    principal: KeyOrTokenPrincipal,
    db: SessionDep,
    ctx: ContextDep,
    client: ClientDep,
) -> UserOut:
    """Change the current user's own details (not role, email or status)."""
    changes = body.model_dump(exclude_unset=True)
    return await UserService(db, ctx).update_profile(principal, changes=changes, client=client)


@router.post(
    "/change-password",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(400, *JSON_BODY, password=True),
)
async def change_password(
    body: ChangePasswordIn,
    principal: CurrentPrincipal,
    db: SessionDep,
    ctx: ContextDep,
    client: ClientDep,
) -> None:
    """Change the password; every other session is signed out.

    With two-factor authentication on, `code` (TOTP or recovery code) is needed too:
    missing or wrong -> 400 `invalid_mfa_code`."""
    await PasswordService(db, ctx).change(
        principal,
        current_password=body.current_password,
        new_password=body.new_password,
        client=client,
        code=body.code,
    )


@router.get("/sessions")
async def list_sessions(
    principal: CurrentPrincipal, db: SessionDep, ctx: ContextDep
) -> list[SessionOut]:
    """The current user's active sessions, most recently used first."""
    return await UserService(db, ctx).sessions(principal)


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(404),
)
async def revoke_session(
    session_id: uuid.UUID,
    principal: CurrentPrincipal,
    db: SessionDep,
    ctx: ContextDep,
    client: ClientDep,
) -> None:
    """Sign out one of the current user's sessions."""
    await UserService(db, ctx).revoke_session(principal, session_id, client=client)
