from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.models import Role
from app.schemas.common import InputModel, LanguageTag, NameStr, NewPassword, Password


class UserOut(BaseModel):
    id: uuid.UUID = Field(examples=["0b9f3f4e-6a51-4c0e-9d0a-3c2f1e8b7a65"])
    email: str = Field(examples=["ada@example.com"])
    full_name: str | None = Field(examples=["Ada Lovelace"])
    role: Role = Field(examples=[Role.USER])
    is_active: bool = Field(examples=[True])
    is_verified: bool = Field(examples=[True])
    created_at: datetime = Field(examples=["2026-01-01T12:00:00Z"])
    oauth_providers: list[str] = Field(examples=[["github"]])
    locale: str | None = Field(
        description="The BCP 47 language tag the user chose for emails (null: not chosen)",
        examples=["de-AT"],
    )
    mfa_enabled: bool = Field(
        default=False, description="Two-factor authentication (TOTP) is on", examples=[False]
    )


class ProfileUpdateIn(InputModel):
    """Only what a user may change about themselves."""

    full_name: NameStr | None = Field(default=None, max_length=200, examples=["Ada Lovelace"])
    locale: LanguageTag | None = Field(
        default=None,
        description="Language of emails (BCP 47); null forgets the choice",
        examples=["fr-CA"],
    )


class ChangePasswordIn(InputModel):
    current_password: Password = Field(examples=["correct horse battery staple"])
    new_password: NewPassword = Field(examples=["a new sturdy passphrase"])
    code: str | None = Field(
        default=None,
        max_length=64,
        description="With two-factor authentication on: a TOTP code or an unused recovery code",
        examples=["492039"],
    )


class SessionOut(BaseModel):
    id: uuid.UUID = Field(examples=["5d1c2b7a-0e9f-4a8b-b6c3-2f1e0d9c8b7a"])
    created_at: datetime = Field(examples=["2026-01-01T12:00:00Z"])
    last_used_at: datetime = Field(examples=["2026-01-01T12:30:00Z"])
    ip: str | None = Field(examples=["203.0.113.7"])
    user_agent: str | None = Field(examples=["Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"])
    current: bool = Field(description="The session of the token making this request")
