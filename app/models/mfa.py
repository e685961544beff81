from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class RecoveryCode(SQLModel, table=True):
    """One single-use MFA recovery code, stored only as a keyed hash (SPEC §7.1)."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (sa.UniqueConstraint("user_id", "code_hash"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    # HMAC-SHA256 (keyed with the password pepper) of the user id and the normalised code.
    code_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
