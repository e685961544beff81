from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, StrictBool

from app.models import Role
from app.schemas.common import InputModel, Page
from app.schemas.users import UserOut


class UserAdminUpdateIn(InputModel):
    """What an admin may change on an account (null or absent: leave as it is)."""

    role: Role | None = None
    # Strict: a lax bool would read "no" or "off" as false and deactivate the account.
    is_active: StrictBool | None = None


class AuditOut(BaseModel):
    id: uuid.UUID
    event: str = Field(examples=["login_failed"])
    user_id: uuid.UUID | None = Field(description="The account concerned")
    actor_id: uuid.UUID | None = Field(description="Who acted; null when anonymous")
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]
    created_at: datetime


# Named pages, so generated clients get readable type names.
class UserPage(Page[UserOut]):
    pass


class AuditPage(Page[AuditOut]):
    pass
