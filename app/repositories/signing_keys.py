from __future__ import annotations

from datetime import datetime

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import SigningKey

# What a worker compares to notice a change: which keys exist and their states.
Fingerprint = tuple[tuple[str, datetime | None, datetime | None], ...]


class SigningKeyRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def all(self) -> list[SigningKey]:
        result = await self.db.exec(select(SigningKey).order_by(col(SigningKey.created_at)))
        return list(result.all())

    async def fingerprint(self) -> Fingerprint:
        result = await self.db.exec(
            select(SigningKey.kid, SigningKey.activated_at, SigningKey.retired_at).order_by(
                col(SigningKey.kid)
            )
        )
        return tuple((kid, activated, retired) for kid, activated, retired in result.all())

    async def add(self, key: SigningKey) -> None:
        self.db.add(key)
        await self.db.flush()

    async def delete(self, kids: list[str]) -> None:
        if kids:
            await self.db.exec(delete(SigningKey).where(col(SigningKey.kid).in_(kids)))
