"""Webhook endpoints, the outbox and deliveries. Claims are single statements:
`UPDATE/DELETE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`,
so two dispatchers never take the same row (PostgreSQL skips rows another
transaction holds; SQLite has one writer, and the statement takes the write
lock before it reads)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, delete, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent


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

    async def enabled(self) -> list[WebhookEndpoint]:
        result = await self.db.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.enabled)))
        return list(result.all())

    async def delete(self, endpoint: WebhookEndpoint) -> None:
        await self.db.delete(endpoint)
        await self.db.flush()

    # Outbox ----------------------------------------------------------------------

    async def take_events(self, limit: int) -> list[WebhookEvent]:
        """Remove up to `limit` outbox rows (oldest first) and return them; the caller
        fans them out in the same transaction, so a crash loses nothing."""
        ids = (
            select(WebhookEvent.id)
            .order_by(col(WebhookEvent.created_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        result = await self.db.exec(
            delete(WebhookEvent).where(col(WebhookEvent.id).in_(ids)).returning(WebhookEvent)
        )
        return sorted(result.scalars().all(), key=lambda e: e.created_at)

    def add_delivery(self, delivery: WebhookDelivery) -> None:
        self.db.add(delivery)

    # Deliveries ------------------------------------------------------------------

    async def has_work(self, now: datetime) -> bool:
        """Whether the outbox holds rows or a delivery is due (a read: no write lock)."""
        due = select(WebhookDelivery.id).where(*_due(now)).exists()
        result = await self.db.exec(select(sa.or_(select(WebhookEvent.id).exists(), due)))
        return bool(result.one())

    async def claim(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[WebhookDelivery]:
        """Take up to `limit` due deliveries of enabled endpoints: count the attempt and
        push `next_attempt_at` to the lease's end (so a crashed attempt is retried)."""
        ids = (
            select(WebhookDelivery.id)
            .where(*_due(now))
            .order_by(col(WebhookDelivery.next_attempt_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        result = await self.db.exec(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id).in_(ids))
            .values(attempts=col(WebhookDelivery.attempts) + 1, next_attempt_at=lease_until)
            .returning(WebhookDelivery)
        )
        return list(result.scalars().all())

    async def finish_many(self, rows: list[dict[str, object]]) -> None:
        """Record attempts' results: each row is an `id` and the columns to set.

        A Core executemany, not the ORM's bulk update: a row deleted meanwhile (its
        endpoint was removed) is simply not updated, where the ORM would raise.
        """
        if not rows:
            return
        table = WebhookDelivery.__table__  # type: ignore[attr-defined]
        params = [
            {"b_id": row["id"], **{k: v for k, v in row.items() if k != "id"}} for row in rows
        ]
        await self.db.exec(
            sa.update(table).where(table.c.id == sa.bindparam("b_id")), params=params
        )

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


def _due(now: datetime) -> list[sa.ColumnElement[bool]]:
    """A delivery due now: pending, its time come, its endpoint enabled. One
    definition for `has_work` and `claim`, so an idle check never disagrees
    with what a claim takes."""
    enabled = select(WebhookEndpoint.id).where(col(WebhookEndpoint.enabled))
    return [
        col(WebhookDelivery.status) == DeliveryStatus.PENDING.value,
        col(WebhookDelivery.next_attempt_at) <= now,
        col(WebhookDelivery.endpoint_id).in_(enabled),
    ]
