from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.schemas.common import InputModel, SafeStr


class ApiKeyIn(InputModel):
    name: SafeStr = Field(min_length=1, max_length=100, examples=["deploy script"])
    expires_in_days: int | None = Field(
        default=None, ge=1, le=365, description="1-365; absent or null: the key never expires"
    )


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str = Field(examples=["deploy script"])
    prefix: str = Field(description="The key's first characters", examples=["ak_3kq9Xv2P"])
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="At most a minute stale")


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(
        description="The key itself (`ak_...`); shown only here. Send it as "
        "`Authorization: Bearer <key>`.",
        examples=["ak_3kq9Xv2PqL0m7bYtR1sW8nE4cH6dJ5fG2aZ9uV0xK3"],
    )
