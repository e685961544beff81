"""Domain errors and the one place that turns them into `{"detail", "code"}` responses.

Services raise these; they never see HTTP. Each error has a stable `code`
(SPEC §4 "Error codes") that clients branch on.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, cast

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.context import current_request_id

log = structlog.get_logger(__name__)


class ErrorCode(StrEnum):
    INVALID_TOKEN = "invalid_token"
    INVALID_REDIRECT = "invalid_redirect"
    WRONG_PASSWORD = "wrong_password"
    NO_PASSWORD = "no_password"
    CORS_REJECTED = "cors_rejected"
    BAD_REQUEST = "bad_request"
    NOT_AUTHENTICATED = "not_authenticated"
    INVALID_CREDENTIALS = "invalid_credentials"
    INVALID_REFRESH_TOKEN = "invalid_refresh_token"
    EMAIL_NOT_VERIFIED = "email_not_verified"
    ACCOUNT_DISABLED = "account_disabled"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    EMAIL_TAKEN = "email_taken"
    LAST_ADMIN = "last_admin"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    WEAK_PASSWORD = "weak_password"
    VALIDATION_ERROR = "validation_error"
    ACCOUNT_LOCKED = "account_locked"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
    # SPEC §7
    INVALID_MFA_CODE = "invalid_mfa_code"
    INVALID_PASSKEY = "invalid_passkey"
    CAPTCHA_FAILED = "captcha_failed"
    INVALID_WEBHOOK_URL = "invalid_webhook_url"
    MFA_REQUIRED = "mfa_required"
    MFA_ALREADY_ENABLED = "mfa_already_enabled"
    LAST_CREDENTIAL = "last_credential"
    TOO_MANY_API_KEYS = "too_many_api_keys"
    BREACHED_PASSWORD = "breached_password"


class AppError(Exception):
    """Base of every error a client may see. Subclasses fix status, code and default text."""

    status_code: ClassVar[int] = 400
    code: ClassVar[ErrorCode] = ErrorCode.BAD_REQUEST
    default_detail: ClassVar[str] = "Bad request"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        self.detail = detail or self.default_detail
        self.headers = headers or {}
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, "code": self.code.value}


class InvalidToken(AppError):
    code = ErrorCode.INVALID_TOKEN
    default_detail = "The token is invalid or has expired"


class InvalidRedirect(AppError):
    code = ErrorCode.INVALID_REDIRECT
    default_detail = "redirect_to must be a URL on the frontend"


class WrongPassword(AppError):
    code = ErrorCode.WRONG_PASSWORD
    default_detail = "The current password is wrong"


class NoPassword(AppError):
    code = ErrorCode.NO_PASSWORD
    default_detail = "This account has no password; use password reset to set one"


class NotAuthenticated(AppError):
    status_code = 401
    code = ErrorCode.NOT_AUTHENTICATED
    default_detail = "Not authenticated"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class InvalidCredentials(AppError):
    status_code = 401
    code = ErrorCode.INVALID_CREDENTIALS
    default_detail = "Incorrect email or password"


class InvalidRefreshToken(AppError):
    status_code = 401
    code = ErrorCode.INVALID_REFRESH_TOKEN
    default_detail = "The refresh token is invalid or has expired"


class EmailNotVerified(AppError):
    status_code = 403
    code = ErrorCode.EMAIL_NOT_VERIFIED
    default_detail = "Verify your email address before logging in"


class AccountDisabled(AppError):
    status_code = 403
    code = ErrorCode.ACCOUNT_DISABLED
    default_detail = "This account is disabled"


class Forbidden(AppError):
    status_code = 403
    code = ErrorCode.FORBIDDEN
    default_detail = "You do not have permission to do this"


class NotFound(AppError):
    status_code = 404
    code = ErrorCode.NOT_FOUND
    default_detail = "Not found"


class EmailTaken(AppError):
    status_code = 409
    code = ErrorCode.EMAIL_TAKEN
    default_detail = "An account with this email already exists"


class LastAdmin(AppError):
    status_code = 409
    code = ErrorCode.LAST_ADMIN
    default_detail = "The last active admin cannot be demoted or deactivated"


class UnsupportedMediaType(AppError):
    status_code = 415
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE
    default_detail = "Send the body as application/json"


class WeakPassword(AppError):
    status_code = 422
    code = ErrorCode.WEAK_PASSWORD
    default_detail = "The password does not meet the password policy"


class AccountLocked(AppError):
    status_code = 423
    code = ErrorCode.ACCOUNT_LOCKED
    default_detail = "Too many failed attempts; the account is temporarily locked"

    def __init__(self, locked_until: datetime) -> None:
        super().__init__()
        self.locked_until = locked_until

    def body(self) -> dict[str, Any]:
        until = self.locked_until.isoformat().replace("+00:00", "Z")
        return {**super().body(), "locked_until": until}


class RateLimited(AppError):
    status_code = 429
    code = ErrorCode.RATE_LIMITED
    default_detail = "Too many requests; slow down"


class InvalidMfaCode(AppError):
    code = ErrorCode.INVALID_MFA_CODE
    default_detail = "The authentication code is wrong or has expired"


class InvalidPasskey(AppError):
    code = ErrorCode.INVALID_PASSKEY
    default_detail = "The passkey could not be verified"


class CaptchaFailed(AppError):
    code = ErrorCode.CAPTCHA_FAILED
    default_detail = "The CAPTCHA check failed; try again"


class InvalidWebhookUrl(AppError):
    code = ErrorCode.INVALID_WEBHOOK_URL
    default_detail = "The webhook URL must be a public http(s) URL"


class MfaRequired(AppError):
    """The first factor passed; a second one is needed to finish signing in."""

    status_code = 403
    code = ErrorCode.MFA_REQUIRED
    default_detail = "A second factor is required to finish signing in"

    def __init__(self, mfa_token: str, methods: list[str]) -> None:
        super().__init__()
        self.mfa_token = mfa_token
        self.methods = methods

    def body(self) -> dict[str, Any]:
        return {**super().body(), "mfa_token": self.mfa_token, "methods": self.methods}


class MfaAlreadyEnabled(AppError):
    status_code = 409
    code = ErrorCode.MFA_ALREADY_ENABLED
    default_detail = "Two-factor authentication is already on"


class LastCredential(AppError):
    status_code = 409
    code = ErrorCode.LAST_CREDENTIAL
    default_detail = "This is the account's last way to sign in"


class TooManyApiKeys(AppError):
    status_code = 409
    code = ErrorCode.TOO_MANY_API_KEYS
    default_detail = "Too many API keys; delete one first"


class BreachedPassword(AppError):
    status_code = 422
    code = ErrorCode.BREACHED_PASSWORD
    default_detail = "This password appears in known data breaches; choose another one"


# Statuses raised by the framework itself (routing, method checks), mapped to codes.
_HTTP_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.NOT_AUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
}


def error_body(detail: str, code: ErrorCode) -> dict[str, Any]:
    return {"detail": detail, "code": code.value}


def internal_error_body(request_id: str | None) -> dict[str, Any]:
    """The only body a 500 ever has (SPEC §4)."""
    return {
        **error_body("Internal server error", ErrorCode.INTERNAL_ERROR),
        "request_id": request_id,
    }


async def _app_error_handler(request: Request, exc: Exception) -> JSONResponse:
    error = cast(AppError, exc)
    return JSONResponse(error.body(), status_code=error.status_code, headers=error.headers)


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    error = cast(StarletteHTTPException, exc)
    code = _HTTP_CODES.get(error.status_code, ErrorCode.BAD_REQUEST)
    detail = error.detail if isinstance(error.detail, str) else "Request failed"
    if error.status_code == 404:
        detail = "Not found"
    return JSONResponse(
        error_body(detail, code),
        status_code=error.status_code,
        headers=dict(error.headers or {}),
    )


async def _validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    # FastAPI's shape, minus the echoed input: it may hold a password.
    errors = []
    for error in cast(RequestValidationError, exc).errors():
        item = {key: error[key] for key in ("type", "loc", "msg") if key in error}
        if ctx := error.get("ctx"):
            item["ctx"] = {key: str(value) for key, value in ctx.items()}
        errors.append(item)
    return JSONResponse({"detail": errors}, status_code=422)


DATABASE_RETRY_AFTER = "5"


async def _database_unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    # The message of a driver error can quote SQL parameters: log only the types.
    original = getattr(exc, "orig", None)
    log.warning(
        "database_unavailable",
        error=type(exc).__name__,
        driver_error=type(original).__name__ if original is not None else None,
    )
    return JSONResponse(
        error_body("The database is unavailable; try again shortly", ErrorCode.SERVICE_UNAVAILABLE),
        status_code=503,
        headers={"Retry-After": DATABASE_RETRY_AFTER},
    )


async def _unhandled_error_handler(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(internal_error_body(current_request_id()), status_code=500)


def register_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    # Lost connections, refused connections and an exhausted pool are transient: 503.
    for error in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(error, _database_unavailable_handler)
    app.add_exception_handler(Exception, _unhandled_error_handler)
