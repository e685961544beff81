"""Documented error responses, so each route's `{detail, code}` contract shows in OpenAPI."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from app.errors import (
    AccountLocked,
    AppError,
    EmailTaken,
    ErrorCode,
    Forbidden,
    InvalidToken,
    NotAuthenticated,
    NotFound,
    RateLimited,
    UnsupportedMediaType,
    error_body,
)
from app.schemas.common import ErrorOut, LockedErrorOut, ValidationErrorOut

_DESCRIPTIONS = {
    400: "Bad request (see `code`)",
    401: "Not authenticated (`not_authenticated`) or bad credentials",
    403: "Forbidden (see `code`)",
    404: "Not found (`not_found`)",
    409: "Conflict (see `code`)",
    413: "Body over 64 KiB (`payload_too_large`)",
    415: "Body is not JSON (`unsupported_media_type`)",
    422: "Validation error; `weak_password` for a password the policy refuses, "
    "`breached_password` for one known from data breaches",
    423: "Account locked (`account_locked`) until `locked_until`",
    429: "Rate limited (`rate_limited`); see `Retry-After`",
    503: "The database is unavailable (`service_unavailable`); see `Retry-After`",
}
# One example body per status, taken from the errors themselves so they stay in step.
_EXAMPLES: dict[int, dict[str, Any]] = {
    400: InvalidToken().body(),
    401: NotAuthenticated().body(),
    403: Forbidden().body(),
    404: NotFound().body(),
    409: EmailTaken().body(),
    413: error_body("Request body too large", ErrorCode.PAYLOAD_TOO_LARGE),
    415: UnsupportedMediaType().body(),
    423: AccountLocked(datetime(2026, 1, 1, 12, 30, tzinfo=UTC)).body(),
    429: RateLimited().body(),
    503: error_body(
        "The database is unavailable; try again shortly", ErrorCode.SERVICE_UNAVAILABLE
    ),
}
_INTEGER = {"type": "integer"}
_RATE_LIMIT_HEADERS = {
    "Retry-After": {"description": "Seconds to wait before trying again", "schema": _INTEGER},
    "RateLimit-Limit": {"description": "Requests allowed per window", "schema": _INTEGER},
    "RateLimit-Remaining": {"description": "Requests left in the window", "schema": _INTEGER},
    "RateLimit-Reset": {"description": "Seconds until the window resets", "schema": _INTEGER},
}


def errors(
    *statuses: int, password: bool = False, examples: Sequence[AppError] = ()
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error statuses.

    With `password`, the 422 answer may also be `{detail, code: "weak_password"}`.
    `examples` replace the default example of their status with the route's own error.
    """
    own = {error.status_code: error.body() for error in examples}
    result: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        if status == 422:
            model: Any = ValidationErrorOut | ErrorOut if password else ValidationErrorOut
        else:
            model = LockedErrorOut if status == 423 else ErrorOut
        response: dict[str, Any] = {"model": model, "description": _DESCRIPTIONS[status]}
        if example := own.get(status) or _EXAMPLES.get(status):
            response["content"] = {"application/json": {"example": example}}
        if status == 429:
            response["headers"] = _RATE_LIMIT_HEADERS
        result[status] = response
    return result


AUTHENTICATED = (401, 429)
ADMIN = (401, 403, 429)
JSON_BODY = (413, 415, 422, 429)
