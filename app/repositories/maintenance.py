"""Deleting what the service no longer needs, in bounded batches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import AuditLog, OneTimeToken, UserSession


async def _delete_batch(db: AsyncSession, model: Any, condition: Any, batch: int) -> int:
    # DELETE ... WHERE id IN (SELECT id ... LIMIT n): portable, and short locks.
    ids = select(model.id).where(condition).limit(batch).scalar_subquery()
    result = await db.exec(delete(model).where(col(model.id).in_(ids)))
    return int(result.rowcount or 0)


async def delete_expired_tokens(db: AsyncSession, now: datetime, batch: int) -> int:
    """One-time tokens past their expiry (used or not)."""
    return await _delete_batch(db, OneTimeToken, col(OneTimeToken.expires_at) < now, batch)


async def delete_dead_sessions(db: AsyncSession, before: datetime, batch: int) -> int:
    """Sessions that expired, or were revoked, before `before` (refresh tokens cascade)."""
    condition = sa.or_(
        col(UserSession.expires_at) < before,
        col(UserSession.revoked_at) < before,
    )
    return await _delete_batch(db, UserSession, condition, batch)


async def delete_old_audit(db: AsyncSession, before: datetime, batch: int) -> int:
    return await _delete_batch(db, AuditLog, col(AuditLog.created_at) < before, batch)
