from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class AuditEvent(StrEnum):
    REGISTER = "register"
    EMAIL_VERIFIED = "email_verified"
    LOGIN_SUCCESS = "login_success"
    LOGIN_FAILED = "login_failed"
    ACCOUNT_LOCKED = "account_locked"
    ACCOUNT_UNLOCKED = "account_unlocked"
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    TOKEN_REFRESHED = "token_refreshed"
    REFRESH_TOKEN_REUSE = "refresh_token_reuse"
    SESSION_REVOKED = "session_revoked"
    PASSWORD_RESET_REQUESTED = "password_reset_requested"
    PASSWORD_RESET_COMPLETED = "password_reset_completed"
    PASSWORD_CHANGED = "password_changed"
    OAUTH_LOGIN = "oauth_login"
    OAUTH_LINKED = "oauth_linked"
    OAUTH_FAILED = "oauth_failed"
    ROLE_CHANGED = "role_changed"
    USER_UPDATED = "user_updated"
    ACCESS_DENIED = "access_denied"
    EMAIL_SEND_FAILED = "email_send_failed"
    # SPEC §7
    MFA_ENABLED = "mfa_enabled"
    MFA_DISABLED = "mfa_disabled"
    MFA_CHALLENGE_FAILED = "mfa_challenge_failed"
    MFA_RECOVERY_CODE_USED = "mfa_recovery_code_used"
    MFA_RECOVERY_CODES_REGENERATED = "mfa_recovery_codes_regenerated"
    MFA_RESET = "mfa_reset"
    PASSKEY_ADDED = "passkey_added"
    PASSKEY_REMOVED = "passkey_removed"
    PASSKEY_CLONE_SUSPECTED = "passkey_clone_suspected"
    MAGIC_LINK_REQUESTED = "magic_link_requested"
    API_KEY_CREATED = "api_key_created"
    API_KEY_REVOKED = "api_key_revoked"


class AuditLog(SQLModel, table=True):
    """An append-only record of a security event. Never holds a secret."""

    __tablename__ = "audit_logs"
    __table_args__ = (sa.Index("ix_audit_logs_user_created", "user_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event: str = Field(max_length=64, index=True)
    # Plain ids, no foreign keys: the trail outlives what it describes.
    user_id: uuid.UUID | None = Field(default=None)
    actor_id: uuid.UUID | None = Field(default=None)
    ip: str | None = Field(default=None, max_length=45)
    user_agent: str | None = Field(default=None, max_length=512)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
