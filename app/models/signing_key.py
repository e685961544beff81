from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class SigningKey(SQLModel, table=True):
    """One asymmetric key of the access-token key set (SPEC §7.3).

    The state follows from the timestamps: no `activated_at` = *next*
    (published, not signing yet); activated and not retired = *current*;
    retired = *previous* (published until every token it signed has expired).
    """

    __tablename__ = "signing_keys"

    # The `kid` of the tokens it signs and of its JWK.
    kid: str = Field(primary_key=True, max_length=64)
    algorithm: str = Field(max_length=16)
    # The public JWK, rendered once (RFC 7517 members only, never a private one).
    public_jwk: dict[str, str] = Field(sa_type=sa.JSON)
    # The private key as PKCS#8 PEM, encrypted with the data cipher (bound to the kid).
    private_key: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    activated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
