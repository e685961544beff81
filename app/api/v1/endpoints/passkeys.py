"""Passkeys: the signed-in user's (register, list, rename, delete) and signing in with one."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app.api.responses import AUTHENTICATED, JSON_BODY, errors
from app.api.routing import refusing_invalid
from app.dependencies import ClientDep, ContextDep, CurrentPrincipal, SessionDep
from app.errors import InvalidCredentials, InvalidPasskey, LastCredential
from app.schemas.auth import TokenPair
from app.schemas.passkeys import (
    PasskeyLoginIn,
    PasskeyOut,
    PasskeyRegisterIn,
    PasskeyRenameIn,
    PublicKeyCredentialCreationOptionsJSON,
    PublicKeyCredentialRequestOptionsJSON,
)
from app.services.passkeys.authentication import PasskeySignIn, sign_in_options
from app.services.passkeys.credentials import PasskeyCredentials
from app.services.passkeys.registration import PasskeyRegistration

# A malformed `credential` is a failed ceremony (400 invalid_passkey), not a 422.
router = APIRouter(
    prefix="/users/passkeys",
    tags=["passkeys"],
    route_class=refusing_invalid("credential", InvalidPasskey),
    responses=errors(*AUTHENTICATED),
)
# Any failure to sign in is the same 401 invalid_credentials.
login_router = APIRouter(
    prefix="/auth/passkeys/login",
    tags=["passkeys"],
    route_class=refusing_invalid("credential", InvalidCredentials),
)


@router.post("/register/options", response_model_exclude_none=True)
async def register_options(
    principal: CurrentPrincipal, db: SessionDep, ctx: ContextDep
) -> PublicKeyCredentialCreationOptionsJSON:
    """Start registering a passkey: options for `navigator.credentials.create()`."""
    return await PasskeyRegistration(db, ctx).options(principal)


@router.post(
    "/register/verify",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, *JSON_BODY, examples=[InvalidPasskey()]),
)
async def register_verify(
    body: PasskeyRegisterIn,
    principal: CurrentPrincipal,
    db: SessionDep,
    ctx: ContextDep,
    client: ClientDep,
) -> PasskeyOut:
    """Finish registering a passkey with the browser's `RegistrationResponseJSON`."""
    return await PasskeyRegistration(db, ctx).verify(
        principal, body.credential, name=body.name, client=client
    )


@router.get("")
async def list_passkeys(
    principal: CurrentPrincipal, db: SessionDep, ctx: ContextDep
) -> list[PasskeyOut]:
    """The current user's passkeys, oldest first."""
    return await PasskeyCredentials(db, ctx).mine(principal)


@router.patch("/{passkey_id}", responses=errors(404, *JSON_BODY))
async def rename_passkey(
    passkey_id: uuid.UUID,
    body: PasskeyRenameIn,
    principal: CurrentPrincipal,
    db: SessionDep,
    ctx: ContextDep,
) -> PasskeyOut:
    """Rename one of the current user's passkeys."""
    return await PasskeyCredentials(db, ctx).rename(principal, passkey_id, name=body.name)


@router.delete(
    "/{passkey_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(404, 409, examples=[LastCredential()]),
)
async def delete_passkey(
    passkey_id: uuid.UUID,
    principal: CurrentPrincipal,
    db: SessionDep,
    ctx: ContextDep,
    client: ClientDep,
) -> None:
    """Delete one of the current user's passkeys (not the account's last way to sign in)."""
    await PasskeyCredentials(db, ctx).delete(principal, passkey_id, client=client)


@login_router.post("/options", response_model_exclude_none=True, responses=errors(429))
async def login_options(ctx: ContextDep) -> PublicKeyCredentialRequestOptionsJSON:
    """Start signing in with a passkey: options for `navigator.credentials.get()`."""
    return await sign_in_options(ctx)


@login_router.post("/verify", responses=errors(401, *JSON_BODY, examples=[InvalidCredentials()]))
async def login_verify(
    body: PasskeyLoginIn, db: SessionDep, ctx: ContextDep, client: ClientDep
) -> TokenPair:
    """Sign in with the browser's `AuthenticationResponseJSON`; returns a token pair."""
    return await PasskeySignIn(db, ctx).verify(body.credential, client=client)
