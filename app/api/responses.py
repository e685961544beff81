"""Documented error responses, so each route's `{detail, code}` contract shows in OpenAPI."""

from __future__ import annotations

from typing import Any

from app.schemas.common import ErrorOut, LockedErrorOut, ValidationErrorOut

_DESCRIPTIONS = {
    400: "Bad request (see `code`)",
    401: "Not authenticated (`not_authenticated`) or bad credentials",
    403: "Forbidden (see `code`)",
    404: "Not found (`not_found`)",
    409: "Conflict (see `code`)",
    413: "Body over 64 KiB (`payload_too_large`)",
    415: "Body is not JSON (`unsupported_media_type`)",
    422: "Validation error; `weak_password` for a password the policy refuses",
    423: "Account locked (`account_locked`) until `locked_until`",
    429: "Rate limited (`rate_limited`); see `Retry-After`",
    503: "The database is unavailable (`service_unavailable`); see `Retry-After`",
}


def errors(*statuses: int, password: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error statuses.

    With `password`, the 422 answer may also be `{detail, code: "weak_password"}`.
    """
    result: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        if status == 422:
            model: Any = ValidationErrorOut | ErrorOut if password else ValidationErrorOut
        else:
            model = LockedErrorOut if status == 423 else ErrorOut
        result[status] = {"model": model, "description": _DESCRIPTIONS[status]}
    return result


AUTHENTICATED = (401, 429)
JSON_BODY = (413, 415, 422, 429)
