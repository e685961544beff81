"""Passwordless sign-in by email: request a magic link and code, sign in with either."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.api.responses import JSON_BODY, errors
from app.api.routing import AppRoute
from app.dependencies import CAPTCHA, ClientDep, ContextDep, SessionDep
from app.schemas.auth import AcceptedOut, TokenIn, TokenPair
from app.schemas.email_signin import EmailCodeIn, MagicLinkIn
from app.services.email_signin import EmailSignIn, MagicLinkRequests

router = APIRouter(prefix="/auth", tags=["auth"], route_class=AppRoute)

SENT = AcceptedOut(detail="If the address belongs to an account, a sign-in email is on its way")
SIGN_IN_ERRORS = errors(400, 403, *JSON_BODY)


@router.post(
    "/magic-link",
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(400, *JSON_BODY),
    dependencies=[CAPTCHA],
)
async def request_magic_link(body: MagicLinkIn, ctx: ContextDep, client: ClientDep) -> AcceptedOut:
    """Email a sign-in link and code; the answer is the same for every address."""
    await MagicLinkRequests(ctx).request(
        email=body.email, redirect_to=body.redirect_to, client=client
    )
    return SENT


@router.post("/magic-link/verify", responses=SIGN_IN_ERRORS)
async def verify_magic_link(
    body: TokenIn, db: SessionDep, ctx: ContextDep, client: ClientDep
) -> TokenPair:
    """Sign in with the emailed link's token (single use; its code dies with it)."""
    return await EmailSignIn(db, ctx).with_link(token=body.token, client=client)


@router.post("/email-code/verify", responses=SIGN_IN_ERRORS)
async def verify_email_code(
    body: EmailCodeIn, db: SessionDep, ctx: ContextDep, client: ClientDep
) -> TokenPair:
    """Sign in with the emailed 6-digit code (single use; its link dies with it)."""
    return await EmailSignIn(db, ctx).with_code(email=body.email, code=body.code, client=client)
