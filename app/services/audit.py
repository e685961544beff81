from __future__ import annotations

import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import metrics
from app.core.clock import Clock
from app.models import AuditEvent, AuditLog
from app.repositories.audit import AuditRepository
from app.services.context import ClientInfo
from app.services.webhooks import outbox


def record(
    db: AsyncSession,
    clock: Clock,
    event: AuditEvent,
    *,
    user_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    client: ClientInfo | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit row to the current transaction. `details` must never hold a secret.

    Each event is also counted in /metrics (`auth_security_events_total{event=...}`),
    and written to the webhook outbox in the same transaction (SPEC §7.5).
    """
    count(event)
    row = entry(clock, event, user_id=user_id, actor_id=actor_id, client=client, details=details)
    AuditRepository(db).add(row)
    outbox.enqueue(db, row)


def count(event: AuditEvent) -> None:
    """Count an event in /metrics; `record` does it, writers of `entry` rows call it."""
    metrics.auth_event(event.value)


def entry(
    clock: Clock,
    event: AuditEvent,
    *,
    user_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    client: ClientInfo | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """The audit row `record` adds, for writers that insert it themselves (then `count` it)."""
    client = client or ClientInfo()
    return AuditLog(
        event=event.value,
        user_id=user_id,
        actor_id=actor_id,
        ip=client.ip,
        user_agent=client.user_agent,
        details=details or {},
        created_at=clock.now(),
    )
