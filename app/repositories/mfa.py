from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, delete, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import RecoveryCode


class RecoveryCodeRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def replace(self, user_id: uuid.UUID, hashes: Sequence[str], now: datetime) -> None:
        """Delete the user's codes and store a new set (caller commits)."""
        await self.delete_all(user_id)
        for code_hash in hashes:
            self.db.add(RecoveryCode(user_id=user_id, code_hash=code_hash, created_at=now))
        await self.db.flush()

    async def delete_all(self, user_id: uuid.UUID) -> None:
        await self.db.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user_id))

    async def spend(self, user_id: uuid.UUID, code_hash: str, now: datetime) -> bool:
        """Mark an unused code used; of concurrent spends of one code, one wins."""
        result = await self.db.exec(
            update(RecoveryCode)
            .where(
                col(RecoveryCode.user_id) == user_id,
                col(RecoveryCode.code_hash) == code_hash,
                col(RecoveryCode.used_at).is_(None),
            )
            .values(used_at=now)
        )
        return bool(result.rowcount)

    async def count_unused(self, user_id: uuid.UUID) -> int:
        result = await self.db.exec(
            select(func.count())
            .select_from(RecoveryCode)
            .where(col(RecoveryCode.user_id) == user_id, col(RecoveryCode.used_at).is_(None))
        )
        return int(result.one())
