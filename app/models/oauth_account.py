from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class OAuthAccount(SQLModel, table=True):
    """A provider identity linked to a user. Identity is (provider, provider_user_id)."""

    __tablename__ = "oauth_accounts"
    __table_args__ = (
        sa.UniqueConstraint("provider", "provider_user_id", name="uq_oauth_provider_user"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    provider: str = Field(max_length=32)
    provider_user_id: str = Field(max_length=255)
    email: str | None = Field(default=None, max_length=320)
    created_at: datetime = Field(sa_type=UTCDateTime)
