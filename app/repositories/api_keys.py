from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, delete, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import ApiKey, User


class ApiKeyRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def add(self, key: ApiKey) -> ApiKey:
        self.db.add(key)
        await self.db.flush()
        return key

    def _live(self, user_id: uuid.UUID, now: datetime) -> sa.ColumnElement[bool]:
        return sa.and_(
            col(ApiKey.user_id) == user_id,
            sa.or_(col(ApiKey.expires_at).is_(None), col(ApiKey.expires_at) > now),
        )

    async def count_live(self, user_id: uuid.UUID, now: datetime) -> int:
        result = await self.db.exec(
            select(func.count()).select_from(ApiKey).where(self._live(user_id, now))
        )
        return result.one()

    async def list_live(self, user_id: uuid.UUID, now: datetime) -> list[ApiKey]:
        result = await self.db.exec(
            select(ApiKey)
            .where(self._live(user_id, now))
            .order_by(col(ApiKey.created_at), col(ApiKey.id))
        )
        return list(result.all())

    async def delete_own(self, user_id: uuid.UUID, key_id: uuid.UUID) -> str | None:
        """Delete one of the user's keys; its hash, or None when it is not theirs."""
        result = await self.db.exec(
            delete(ApiKey)
            .where(col(ApiKey.id) == key_id, col(ApiKey.user_id) == user_id)
            .returning(col(ApiKey.key_hash))
        )
        return result.scalars().first()

    async def delete_expired(self, user_id: uuid.UUID, now: datetime) -> None:
        await self.db.exec(
            delete(ApiKey).where(
                col(ApiKey.user_id) == user_id,
                col(ApiKey.expires_at).is_not(None),
                col(ApiKey.expires_at) <= now,
            )
        )

    async def get_with_user(self, key_hash: str) -> tuple[ApiKey, User] | None:
        result = await self.db.exec(
            select(ApiKey, User)
            .join(User, col(User.id) == col(ApiKey.user_id))
            .where(col(ApiKey.key_hash) == key_hash)
        )
        row = result.first()
        return (row[0], row[1]) if row else None

    async def touch(self, key_id: uuid.UUID, now: datetime) -> None:
        await self.db.exec(update(ApiKey).where(col(ApiKey.id) == key_id).values(last_used_at=now))
