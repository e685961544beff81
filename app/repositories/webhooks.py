"""Webhook endpoints, the outbox and deliveries. Claims are single statements:
`UPDATE/DELETE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`,
so two dispatchers never take the same row (PostgreSQL skips rows another
transaction holds; SQLite has one writer, and the statement takes the write
lock before it reads)."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.models.base import UTCDateTime


class WebhookRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    # Endpoints -------------------------------------------------------------------

    async def add(self, endpoint: WebhookEndpoint) -> WebhookEndpoint:
        self.db.add(endpoint)
        await self.db.flush()
        return endpoint

    async def get(self, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
        return await self.db.get(WebhookEndpoint, endpoint_id)

    async def list_all(self) -> list[WebhookEndpoint]:
        result = await self.db.exec(
            select(WebhookEndpoint).order_by(
                col(WebhookEndpoint.created_at), col(WebhookEndpoint.id)
            )
        )
        return list(result.all())

    async def delete(self, endpoint: WebhookEndpoint) -> None:
        await self.db.delete(endpoint)
        await self.db.flush()

    def add_delivery(self, delivery: WebhookDelivery) -> None:
        self.db.add(delivery)

    # Deliveries ------------------------------------------------------------------

    async def has_work(self, now: datetime) -> bool:
        """Whether the outbox holds rows or a delivery is due (a read: no write lock)."""
        due = select(WebhookDelivery.id).where(*_due(now)).exists()
        result = await self.db.exec(select(sa.or_(select(WebhookEvent.id).exists(), due)))
        return bool(result.one())

    async def deliveries(
        self, endpoint_id: uuid.UUID, *, offset: int, limit: int
    ) -> tuple[list[WebhookDelivery], int]:
        condition = col(WebhookDelivery.endpoint_id) == endpoint_id
        total = await self.db.exec(
            select(func.count()).select_from(WebhookDelivery).where(condition)
        )
        rows = await self.db.exec(
            select(WebhookDelivery)
            .where(condition)
            .order_by(col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id))
            .offset(offset)
            .limit(limit)
        )
        return list(rows.all()), total.one()


async def delete_old_deliveries(db: AsyncSession, before: datetime, batch: int) -> int:
    """Delivered or failed deliveries created before `before`."""
    condition = sa.and_(
        col(WebhookDelivery.status) != DeliveryStatus.PENDING.value,
        col(WebhookDelivery.created_at) < before,
    )
    ids = select(WebhookDelivery.id).where(condition).limit(batch).scalar_subquery()
    result = await db.exec(delete(WebhookDelivery).where(col(WebhookDelivery.id).in_(ids)))
    return int(result.rowcount or 0)


def _due(now: datetime | sa.BindParameter[datetime]) -> list[sa.ColumnElement[bool]]:
    """A delivery due now: pending, its time come, its endpoint enabled. One
    definition for `has_work` and `claim`, so an idle check never disagrees
    with what a claim takes."""
    enabled = select(WebhookEndpoint.id).where(col(WebhookEndpoint.enabled))
    return [
        col(WebhookDelivery.status) == DeliveryStatus.PENDING.value,
        col(WebhookDelivery.next_attempt_at) <= now,
        col(WebhookDelivery.endpoint_id).in_(enabled),
    ]


# The dispatcher's writes: Core statements on a synchronous connection, so a round's
# transaction runs whole where it is handed (SQLite's in-process writer, or a pooled
# connection through `run_sync`), without the ORM's bookkeeping. Built once, with
# bound parameters; none is named like a column (an UPDATE would take it as a SET).

_EVENTS: sa.Table = WebhookEvent.__table__  # type: ignore[attr-defined]
_DELIVERIES: sa.Table = WebhookDelivery.__table__  # type: ignore[attr-defined]
_ENDPOINTS: sa.Table = WebhookEndpoint.__table__  # type: ignore[attr-defined]


@functools.cache
def _statements() -> dict[str, Any]:
    now = sa.bindparam("now", type_=UTCDateTime())
    batch = sa.bindparam("batch", type_=sa.Integer())
    oldest = (
        sa.select(_EVENTS.c.id)
        .order_by(_EVENTS.c.created_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    due = (
        sa.select(_DELIVERIES.c.id)
        .where(*_due(now))
        .order_by(_DELIVERIES.c.next_attempt_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    d = _DELIVERIES.c
    return {
        "take": sa.delete(_EVENTS).where(_EVENTS.c.id.in_(oldest)).returning(*_EVENTS.c),
        "enabled": sa.select(_ENDPOINTS).where(_ENDPOINTS.c.enabled),
        "insert": sa.insert(_DELIVERIES),
        "claim": sa.update(_DELIVERIES)
        .where(d.id.in_(due))
        .values(
            attempts=d.attempts + 1,
            next_attempt_at=sa.bindparam("lease_until", type_=UTCDateTime()),
        )
        .returning(d.id, d.endpoint_id, d.body, d.attempts, d.next_attempt_at),
        "finish": sa.update(_DELIVERIES).where(d.id == sa.bindparam("b_id")),
    }


def take_events(connection: sa.Connection, limit: int) -> list[sa.Row[Any]]:
    """Remove up to `limit` outbox rows (oldest first) and return them; the caller
    fans them out in the same transaction, so a crash loses nothing."""
    rows = connection.execute(_statements()["take"], {"batch": limit}).all()
    return sorted(rows, key=lambda event: event.created_at)


def enabled_endpoints(connection: sa.Connection) -> list[sa.Row[Any]]:
    return list(connection.execute(_statements()["enabled"]).all())


def insert_deliveries(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection.execute(_statements()["insert"], rows)


def claim(
    connection: sa.Connection, now: datetime, lease_until: datetime, limit: int
) -> list[sa.Row[Any]]:
    """Take up to `limit` due deliveries of enabled endpoints: count the attempt and
    push `next_attempt_at` to the lease's end (so a crashed attempt is retried)."""
    params = {"now": now, "lease_until": lease_until, "batch": limit}
    return list(connection.execute(_statements()["claim"], params).all())


def finish_many(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Record attempts' results: each row is an `id` and the columns to set (an
    executemany; a row deleted meanwhile, its endpoint removed, is simply skipped)."""
    if rows:
        params = [{"b_id": row.pop("id"), **row} for row in map(dict, rows)]
        connection.execute(_statements()["finish"], params)
