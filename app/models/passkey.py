from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class Passkey(SQLModel, table=True):
    """A WebAuthn credential (a passkey) registered to a user.

    Only public material is stored: the credential id the authenticator chose,
    its COSE public key and the last signature counter it reported.
    """

    __tablename__ = "passkeys"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    # base64url (unpadded) of the raw credential id; at most 1023 bytes by the spec.
    credential_id: str = Field(max_length=1400, unique=True)
    public_key: bytes = Field(sa_type=sa.LargeBinary)
    # An unsigned 32-bit counter: past a signed INTEGER's range.
    sign_count: int = Field(default=0, sa_type=sa.BigInteger)
    name: str = Field(max_length=100)
    aaguid: str = Field(max_length=36)
    transports: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    backup_eligible: bool = Field(default=False)
    backed_up: bool = Field(default=False)
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
