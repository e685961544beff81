"""Bodies of the passwordless email sign-in routes."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema

from app.schemas.auth import EMAIL_EXAMPLE
from app.schemas.common import Email, InputModel

REDIRECT_MAX = 2048
_CODE = re.compile(r"^[0-9]{6}$")
# Readers copy "123 456" or "123-456" as shown by some mail clients: accepted.
_SEPARATORS = str.maketrans("", "", " -\u00a0")


def _code(value: object) -> str:
    if not isinstance(value, str) or len(value) > 32:
        raise ValueError("must be the 6-digit code from the email")
    code = value.strip().translate(_SEPARATORS)
    if not _CODE.match(code):
        raise ValueError("must be the 6-digit code from the email")
    return code


EmailCode = Annotated[
    str,
    BeforeValidator(_code),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9]{6}$",
            "description": "The 6-digit code from the email (spaces and dashes are ignored)",
            "examples": ["042917"],
        }
    ),
]


class MagicLinkIn(InputModel):
    email: Email = Field(examples=[EMAIL_EXAMPLE])
    redirect_to: str | None = Field(
        default=None,
        max_length=REDIRECT_MAX,
        description="Where the frontend should land after signing in: a path, or a URL on "
        "FRONTEND_BASE_URL; passed along in the link as `redirect_to`",
        examples=["/dashboard"],
    )


class EmailCodeIn(InputModel):
    email: Email = Field(examples=[EMAIL_EXAMPLE])
    code: EmailCode
