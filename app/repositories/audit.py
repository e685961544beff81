from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import AuditLog


class AuditRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    def add(self, entry: AuditLog) -> None:
        """Queue the row; it is written with the use-case's commit."""
        self.db.add(entry)

    @staticmethod
    def insert_sync(connection: sa.Connection, entry: AuditLog) -> None:
        """Write the row on a synchronous connection (the SQLite writer's transaction)."""
        table: sa.Table = AuditLog.__table__  # type: ignore[attr-defined]
        connection.execute(sa.insert(table).values(**entry.model_dump()))

    async def search(
        self,
        *,
        user_id: uuid.UUID | None,
        event: str | None,
        since: datetime | None,
        offset: int,
        limit: int,
    ) -> tuple[list[AuditLog], int]:
        conditions: list[sa.ColumnElement[bool]] = []
        if user_id is not None:
            conditions.append(col(AuditLog.user_id) == user_id)
        if event:
            conditions.append(col(AuditLog.event) == event)
        if since is not None:
            conditions.append(col(AuditLog.created_at) >= since)
        total = await self.db.exec(select(func.count()).select_from(AuditLog).where(*conditions))
        rows = await self.db.exec(
            select(AuditLog)
            .where(*conditions)
            .order_by(col(AuditLog.created_at).desc(), col(AuditLog.id))
            .offset(offset)
            .limit(limit)
        )
        return list(rows.all()), total.one()
