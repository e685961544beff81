from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.models import Role
from app.schemas.common import InputModel


class UserAdminUpdateIn(InputModel):
    """What an admin may change on an account."""

    role: Role | None = None
    is_active: bool | None = None


class AuditOut(BaseModel):
    id: uuid.UUID
    event: str = Field(examples=["login_failed"])
    user_id: uuid.UUID | None = Field(description="The account concerned")
    actor_id: uuid.UUID | None = Field(description="Who acted; null when anonymous")
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]
    created_at: datetime
