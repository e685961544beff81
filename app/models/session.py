from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class UserSession(SQLModel, table=True):
    """One signed-in device. Its refresh tokens form one rotation family."""

    __tablename__ = "sessions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    user_agent: str | None = Field(default=None, max_length=512)
    ip: str | None = Field(default=None, max_length=45)
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_used_at: datetime = Field(sa_type=UTCDateTime)
    # Absolute end of the session, fixed at login; rotation never extends it.
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    revoke_reason: str | None = Field(default=None, max_length=32)
    # How the session was signed in (RFC 8176 values, e.g. ["pwd"], ["pwd", "otp", "mfa"]);
    # every access token of the session carries it as `amr`.
    amr: list[str] = Field(default_factory=list, sa_type=sa.JSON)


class RefreshToken(SQLModel, table=True):
    """A single-use refresh token, stored only as its SHA-256."""

    __tablename__ = "refresh_tokens"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    session_id: uuid.UUID = Field(foreign_key="sessions.id", ondelete="CASCADE", index=True)
    parent_id: uuid.UUID | None = Field(default=None)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
