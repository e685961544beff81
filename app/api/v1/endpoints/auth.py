"""Registration, login, tokens, logout, verification and password reset."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import ValidationError

from app.api.refresh_cookie import RefreshCookieDep
from app.api.responses import AUTHENTICATED, JSON_BODY, errors
from app.api.routing import AppRoute
from app.dependencies import (
    CAPTCHA,
    ClientDep,
    ContextDep,
    CurrentPrincipal,
    OptionalPrincipal,
    SessionDep,
)
from app.errors import Forbidden, InvalidRefreshToken, NotAuthenticated
from app.schemas.auth import (
    AcceptedOut,
    EmailIn,
    LoginIn,
    LogoutIn,
    MessageOut,
    PasswordResetCompleteIn,
    RefreshIn,
    RegisterIn,
    TokenIn,
    TokenPair,
)
from app.schemas.users import UserOut
from app.services.auth import AuthService
from app.services.email import EmailService
from app.services.passwords import PasswordService
from app.services.users import user_out

router = APIRouter(prefix="/auth", tags=["auth"], route_class=AppRoute)

ACCEPTED = AcceptedOut(detail="If the address belongs to an account, an email is on its way")
LOGIN_ERRORS = errors(401, 403, 423, *JSON_BODY)


AcceptLanguage = Annotated[
    str | None,
    Header(description="Language of the account's emails when the body names none"),
]


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 409, *JSON_BODY, password=True),
    dependencies=[CAPTCHA],
)
async def register(
    body: RegisterIn,
    db: SessionDep,
    ctx: ContextDep,
    client: ClientDep,
    accept_language: AcceptLanguage = None,
) -> UserOut:
    """Create an account and send a verification email."""
    user = await AuthService(db, ctx).register(
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        locale=body.locale,
        accept_language=accept_language,
        client=client,
    )
    return user_out(user, [])


@router.post("/login", responses=LOGIN_ERRORS)
async def login(body: LoginIn, db: SessionDep, ctx: ContextDep, client: ClientDep) -> TokenPair:
    """Log in with email and password; returns an access and a refresh token."""
    return await AuthService(db, ctx).login(email=body.email, password=body.password, client=client)


@router.post("/token", responses=LOGIN_ERRORS)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    db: SessionDep,
    ctx: ContextDep,
    client: ClientDep,
) -> TokenPair:
    """OAuth2 password form login (used by the docs' Authorize button)."""
    try:
        credentials = LoginIn(email=form.username, password=form.password)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_input=False)) from exc
    return await AuthService(db, ctx).login(
        email=credentials.email, password=credentials.password, client=client
    )


# The cookie is read only from an allowed Origin: else 403 `forbidden`.
COOKIE_ORIGIN = Forbidden("The refresh cookie is accepted only from an allowed origin")


@router.post("/refresh", responses=errors(401, 403, *JSON_BODY, examples=[COOKIE_ORIGIN]))
async def refresh(
    cookie: RefreshCookieDep,
    db: SessionDep,
    ctx: ContextDep,
    client: ClientDep,
    body: RefreshIn | None = None,
) -> TokenPair:
    """Trade a refresh token (body, else cookie) for a new pair; the old one dies."""
    token = (body.refresh_token if body else None) or cookie.token()
    if token is None:
        if not cookie.enabled:  # body mode: §4's body, where the token is required
            raise _missing_refresh_token(body)
        raise InvalidRefreshToken()
    return await AuthService(db, ctx).sessions.rotate(token, client)


def _missing_refresh_token(body: RefreshIn | None) -> RequestValidationError:
    """The 422 FastAPI gives a required field that is absent (or a missing body)."""
    loc: tuple[str, ...] = ("body", "refresh_token") if body else ("body",)
    return RequestValidationError(
        [{"type": "missing", "loc": loc, "msg": "Field required", "input": {} if body else None}]
    )


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(*AUTHENTICATED, 403, 413, 415, examples=[COOKIE_ORIGIN]),
)
async def logout(
    principal: OptionalPrincipal,
    cookie: RefreshCookieDep,
    db: SessionDep,
    ctx: ContextDep,
    client: ClientDep,
    body: LogoutIn | None = None,
) -> None:
    """Revoke the current session; its access token stops working at once."""
    token = (body.refresh_token if body else None) or cookie.token()
    service = AuthService(db, ctx)
    if principal is not None:
        await service.logout(principal, refresh_token=token, client=client)
    elif token is not None and cookie.enabled:  # cookie modes: no Bearer needed
        await service.logout_with_refresh_token(token, client=client)
    else:
        raise NotAuthenticated()


@router.post(
    "/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(*AUTHENTICATED),
)
async def logout_all(
    principal: CurrentPrincipal, db: SessionDep, ctx: ContextDep, client: ClientDep
) -> None:
    """Revoke every session of the current user."""
    await AuthService(db, ctx).logout_all(principal, client=client)


@router.post("/verify-email", responses=errors(400, *JSON_BODY))
async def verify_email(
    body: TokenIn, db: SessionDep, ctx: ContextDep, client: ClientDep
) -> MessageOut:
    """Confirm an email address with the token from the verification email."""
    await AuthService(db, ctx).verify_email(token=body.token, client=client)
    return MessageOut(detail="Email verified")


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(400, *JSON_BODY),
    dependencies=[CAPTCHA],
)
async def resend_verification(body: EmailIn, ctx: ContextDep, client: ClientDep) -> AcceptedOut:
    """Send a new verification email; the answer is the same for every address."""
    await EmailService(ctx).queue_verification_resend(body.email, client)
    return ACCEPTED


@router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(400, *JSON_BODY),
    dependencies=[CAPTCHA],
)
async def password_reset(body: EmailIn, ctx: ContextDep, client: ClientDep) -> AcceptedOut:
    """Email a password reset link; the answer is the same for every address."""
    await EmailService(ctx).queue_password_reset(body.email, client)
    return ACCEPTED


@router.post("/password-reset/complete", responses=errors(400, *JSON_BODY, password=True))
async def password_reset_complete(
    body: PasswordResetCompleteIn, db: SessionDep, ctx: ContextDep, client: ClientDep
) -> MessageOut:
    """Set a new password with a reset token; every session is signed out."""
    await PasswordService(db, ctx).complete_reset(
        token=body.token, new_password=body.new_password, client=client
    )
    return MessageOut(detail="Password updated")
