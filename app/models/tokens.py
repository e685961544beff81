from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class TokenPurpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    PASSWORD_RESET = "password_reset"
    OAUTH_EXCHANGE = "oauth_exchange"
    # A sign-in link; the same row holds the mail's 6-digit code, so both die together.
    MAGIC_LINK = "magic_link"


class OneTimeToken(SQLModel, table=True):
    """Verification, reset, OAuth exchange and sign-in secrets: hashed, single use, expiring."""

    __tablename__ = "one_time_tokens"
    __table_args__ = (sa.Index("ix_one_time_tokens_user_purpose", "user_id", "purpose"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    purpose: TokenPurpose = Field(
        sa_type=sa.Enum(
            TokenPurpose,
            native_enum=False,
            length=32,
            values_callable=lambda kinds: [k.value for k in kinds],
            name="token_purpose",
        )
    )
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Magic links only: a keyed hash of the emailed code, and the wrong codes tried so far.
    code_hash: str | None = Field(default=None, max_length=64)
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
