"""Shared field types and bodies."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from app.core.languages import LOCALE_MAX_LENGTH, is_language_tag

T = TypeVar("T")

# Cc = control characters (NUL included), Cs = lone surrogates (not encodable as UTF-8).
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs"})


def _reject_control(value: str) -> str:
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in value):
        raise ValueError("must not contain control characters")
    return value


def normalise_email(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    value = value.strip()
    if len(value) > 320:
        raise ValueError("must be at most 320 characters")
    _reject_control(value)
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from exc
    except UnicodeError as exc:  # odd input the IDNA codec refuses
        raise ValueError("not a valid email address") from exc
    return result.normalized.lower()


SafeStr = Annotated[str, AfterValidator(_reject_control)]
"""A string with no control characters or lone surrogates."""

# Line and paragraph separators break a name onto lines of its own in a mail or
# a log; bidirectional embeddings, overrides and isolates make text read in an
# order other than stored ("gpj.exe" shown as "exe.jpg"). Neither belongs in a name.
NAME_FORBIDDEN_CHARS = frozenset(
    "\u2028\u2029"  # line, paragraph separator
    "\u202a\u202b\u202c\u202d\u202e"  # LRE RLE PDF LRO RLO
    "\u2066\u2067\u2068\u2069"  # LRI RLI FSI PDI
)


def _reject_name_controls(value: str) -> str:
    _reject_control(value)
    if not NAME_FORBIDDEN_CHARS.isdisjoint(value):
        raise ValueError("must not contain line separators or bidirectional controls")
    return value


NameStr = Annotated[str, AfterValidator(_reject_name_controls)]
"""A person's name: a SafeStr without line separators or bidirectional controls."""


def _utc_instant(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # ISO 8601 without an offset is read as UTC
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError("date out of range (years 1-9999 in UTC)") from None


FilterDatetime = Annotated[datetime, AfterValidator(_utc_instant)]
"""A date in a query filter, as a UTC instant; one outside years 1-9999 in UTC is a 422."""

Email = Annotated[
    str,
    BeforeValidator(normalise_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 320}),
]
"""An email address, trimmed and lower-cased as a whole (SPEC §6)."""

# Passwords are checked by the policy (422 weak_password), not here; this only
# refuses what cannot be a password at all and bounds the work per request.
Password = Annotated[
    str,
    Field(min_length=1, max_length=1024, json_schema_extra={"format": "password"}),
    AfterValidator(_reject_control),
]

NewPassword = Annotated[
    str,
    # Documented, not enforced here: the policy answers 422 weak_password itself.
    WithJsonSchema(
        {
            "type": "string",
            "format": "password",
            "minLength": 8,
            "maxLength": 128,
            "pattern": "^[^\\u0000-\\u001f\\u007f]*$",
            "description": "8-128 characters, any Unicode, not a common password",
        }
    ),
]


def _language_tag(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    value = value.strip()
    if not is_language_tag(value):
        raise ValueError("must be a BCP 47 language tag such as en, de-AT or es-419")
    return value


LanguageTag = Annotated[
    str,
    BeforeValidator(_language_tag),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": LOCALE_MAX_LENGTH,
            "pattern": "^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$",
            "description": "A BCP 47 language tag (`en`, `de`, `fr-CA`, `es-419`, ...). "
            "Emails are written in English, German, French or Spanish; any other "
            "language is kept and falls back.",
        }
    ),
]
"""A BCP 47 language tag, kept as given (trimmed), supported by the emails or not."""

OpaqueToken = Annotated[str, Field(min_length=1, max_length=512), AfterValidator(_reject_control)]
"""A refresh, verification, reset or exchange token as the client received it."""


class InputModel(BaseModel):
    """Base of every request body: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    detail: str = Field(examples=["Not authenticated"])
    code: str = Field(examples=["not_authenticated"])


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str
    ctx: dict[str, str] | None = None


class ValidationErrorOut(BaseModel):
    """FastAPI's 422 shape (the offending input is never echoed)."""

    detail: list[ValidationIssue]


class LockedErrorOut(ErrorOut):
    locked_until: str = Field(examples=["2026-01-01T12:30:00Z"])


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    size: int
