from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.models import Role
from app.schemas.common import InputModel, NewPassword, Password, SafeStr


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    full_name: str | None
    role: Role
    is_active: bool
    is_verified: bool
    created_at: datetime
    oauth_providers: list[str] = Field(examples=[["github"]])


class ProfileUpdateIn(InputModel):
    """Only what a user may change about themselves."""

    full_name: SafeStr | None = Field(default=None, max_length=200)


class ChangePasswordIn(InputModel):
    current_password: Password
    new_password: NewPassword


class SessionOut(BaseModel):
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool
