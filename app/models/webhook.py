from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookEndpoint(SQLModel, table=True):
    """Where an operator wants audit events posted, and the secrets that sign them.

    Secrets are kept encrypted (they must be recoverable to sign): a database
    dump alone does not yield them.
    """

    __tablename__ = "webhook_endpoints"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    url: str = Field(max_length=2048)
    # Audit event names, or ["*"] for every event.
    events: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool = Field(default=True)
    secret: str = Field(max_length=512)
    # After a rotation the old secret also signs until `previous_secret_until`.
    previous_secret: str | None = Field(default=None, max_length=512)
    previous_secret_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class WebhookEvent(SQLModel, table=True):
    """The outbox: one row per audit event, written in the audit row's transaction.

    The dispatcher turns each into one delivery per subscribed endpoint and
    deletes it, in one transaction.
    """

    __tablename__ = "webhook_outbox"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event: str = Field(max_length=64)
    audit_id: uuid.UUID
    user_id: uuid.UUID | None = Field(default=None)
    actor_id: uuid.UUID | None = Field(default=None)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)


class WebhookDelivery(SQLModel, table=True):
    """One message to one endpoint, with its attempts. Its id is the `webhook-id`."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        sa.Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    endpoint_id: uuid.UUID = Field(foreign_key="webhook_endpoints.id", ondelete="CASCADE")
    event: str = Field(max_length=64)
    # The exact bytes sent, so every retry carries the same body and signature input.
    body: str = Field(sa_type=sa.Text)
    status: str = Field(default=DeliveryStatus.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    # When the next attempt is due; while an attempt runs, the end of its lease.
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
