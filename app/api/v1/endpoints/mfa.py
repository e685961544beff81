"""The second factor (SPEC §7.1): the signed-in user's TOTP and recovery codes, and
the second step of a sign-in."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.responses import AUTHENTICATED, JSON_BODY, errors
from app.api.routing import AppRoute
from app.dependencies import ClientDep, ContextDep, CurrentPrincipal, SessionDep
from app.errors import InvalidMfaCode, MfaAlreadyEnabled
from app.schemas.auth import TokenPair
from app.schemas.mfa import MfaCodeIn, MfaStatusOut, MfaVerifyIn, RecoveryCodesOut, TotpSetupOut
from app.services.mfa import MfaService, MfaSignIn

router = APIRouter(
    prefix="/users/mfa", tags=["mfa"], route_class=AppRoute, responses=errors(*AUTHENTICATED)
)
login_router = APIRouter(prefix="/auth/mfa", tags=["mfa"], route_class=AppRoute)

CODE_ERRORS = errors(400, *JSON_BODY, examples=[InvalidMfaCode()])


@router.get("")
async def mfa_status(principal: CurrentPrincipal, db: SessionDep, ctx: ContextDep) -> MfaStatusOut:
    """Whether TOTP is on, and how many unused recovery codes are left."""
    return await MfaService(db, ctx).status(principal)


@router.post("/totp/setup", responses=errors(409, examples=[MfaAlreadyEnabled()]))
async def totp_setup(principal: CurrentPrincipal, db: SessionDep, ctx: ContextDep) -> TotpSetupOut:
    """Start enrolling an authenticator app: a new secret, its `otpauth://` URI and QR code.

    The secret stays pending (replacing an earlier pending one) until confirmed.
    """
    return await MfaService(db, ctx).setup(principal)


@router.post("/totp/confirm", responses=CODE_ERRORS)
async def totp_confirm(
    body: MfaCodeIn, principal: CurrentPrincipal, db: SessionDep, ctx: ContextDep, client: ClientDep
) -> RecoveryCodesOut:
    """Turn TOTP on with a code from the app; returns 10 recovery codes, shown only once."""
    codes = await MfaService(db, ctx).confirm(principal, body.code, client)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post(
    "/totp/disable",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=CODE_ERRORS,
)
async def totp_disable(
    body: MfaCodeIn, principal: CurrentPrincipal, db: SessionDep, ctx: ContextDep, client: ClientDep
) -> None:
    """Turn TOTP off with a TOTP code or an unused recovery code; the recovery codes go too."""
    await MfaService(db, ctx).disable(principal, body.code, client)


@router.post("/recovery-codes", responses=CODE_ERRORS)
async def regenerate_recovery_codes(
    body: MfaCodeIn, principal: CurrentPrincipal, db: SessionDep, ctx: ContextDep, client: ClientDep
) -> RecoveryCodesOut:
    """A new set of 10 recovery codes (needs a code); every older one stops working."""
    codes = await MfaService(db, ctx).regenerate(principal, body.code, client)
    return RecoveryCodesOut(recovery_codes=codes)


@login_router.post("/verify", responses=errors(400, 423, *JSON_BODY, examples=[InvalidMfaCode()]))
async def mfa_verify(
    body: MfaVerifyIn, db: SessionDep, ctx: ContextDep, client: ClientDep
) -> TokenPair:
    """Finish a sign-in that answered 403 `mfa_required`: its `mfa_token` and a TOTP or
    recovery code. 5 wrong codes kill the token (then 400 `invalid_token`)."""
    return await MfaSignIn(db, ctx).verify(mfa_token=body.mfa_token, code=body.code, client=client)
