from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"
    GUEST = "guest"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # Stored trimmed and lower-cased (SPEC §6), so the unique index is case-insensitive.
    email: str = Field(max_length=320, unique=True, index=True)
    full_name: str | None = Field(default=None, max_length=200)
    # None for accounts created through Google or GitHub.
    hashed_password: str | None = Field(default=None, max_length=255)
    role: Role = Field(
        default=Role.USER,
        sa_type=sa.Enum(
            Role,
            native_enum=False,
            length=16,
            values_callable=lambda roles: [r.value for r in roles],
            name="role",
        ),
        index=True,
    )
    # The language the user chose for emails (a BCP 47 tag, kept even when unsupported),
    # and the supported one the registering request's Accept-Language asked for.
    locale: str | None = Field(default=None, max_length=35)
    signup_language: str | None = Field(default=None, max_length=8)
    is_active: bool = Field(default=True)
    is_verified: bool = Field(default=False)
    # The opaque WebAuthn user handle (`user.id` of passkey options, base64url of 32
    # random bytes): neither the email nor the id. Set when the first passkey ceremony starts.
    passkey_handle: str | None = Field(default=None, max_length=64, unique=True)
    # TOTP (SPEC §7.1): the secret of the enrolled authenticator app, encrypted with
    # the data-at-rest cipher (None: TOTP off), and one set up but not yet confirmed.
    totp_secret: str | None = Field(default=None, max_length=255)
    totp_pending_secret: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)

    @property
    def mfa_enabled(self) -> bool:
        return self.totp_secret is not None
