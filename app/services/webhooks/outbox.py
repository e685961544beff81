"""Writing to the outbox, in the transaction of the audit row it describes.

A rolled-back action leaves nothing; a committed one leaves a row that some
dispatcher (this process's, another worker's, or the next process's) sends.
After a commit that wrote to the outbox, this process's dispatchers are
woken at once; the others find the row on their next poll.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import AuditLog, WebhookEvent

_FLAG = "webhook_outbox"
_wakers: set[Callable[[], None]] = set()
# Never sent to a receiver, whatever an audit row's details hold.
_PRIVATE_WORDS = ("password", "token", "hash", "secret", "code", "user_agent")
_PRIVATE_KEYS = {"ip", "ip_address", "client_ip"}


def public_details(details: dict[str, Any]) -> dict[str, Any]:
    """An audit row's details without anything a receiver must not see."""
    return {
        key: value
        for key, value in details.items()
        if key.lower() not in _PRIVATE_KEYS
        and not any(word in key.lower() for word in _PRIVATE_WORDS)
    }


def _row(entry: AuditLog) -> WebhookEvent:
    return WebhookEvent(
        event=entry.event,
        audit_id=entry.id,
        user_id=entry.user_id,
        actor_id=entry.actor_id,
        details=public_details(entry.details),
        created_at=entry.created_at,
    )


def enqueue(db: AsyncSession, entry: AuditLog) -> None:
    """Add the outbox row for `entry` to the current transaction."""
    db.add(_row(entry))
    wake_on_commit(db)


def wake_on_commit(db: AsyncSession) -> None:
    """Wake this process's dispatchers once the current transaction commits (it wrote
    something for them: an outbox row, or a delivery of its own)."""
    db.info[_FLAG] = True


def insert_sync(connection: sa.Connection, entry: AuditLog) -> None:
    """Write the outbox row for `entry` on a synchronous connection (the SQLite
    writer's transaction); call `wake` once it has committed."""
    table: sa.Table = WebhookEvent.__table__  # type: ignore[attr-defined]
    connection.execute(sa.insert(table).values(**_row(entry).model_dump()))


def wake() -> None:
    """Tell this process's dispatchers that committed outbox rows are waiting
    (for writers that bypass the session, whose commits wake them by themselves)."""
    for waker in list(_wakers):
        waker()


def add_waker(waker: Callable[[], None]) -> None:
    _wakers.add(waker)


def remove_waker(waker: Callable[[], None]) -> None:
    _wakers.discard(waker)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_FLAG, False):
        wake()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_FLAG, None)
