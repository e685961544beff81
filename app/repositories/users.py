from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import OAuthAccount, Role, User


class UserRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.db.get(User, user_id)

    async def get_by_email(self, email: str) -> User | None:
        result = await self.db.exec(select(User).where(User.email == email))
        return result.first()

    async def add(self, user: User) -> User:
        """Insert and flush; a duplicate email raises IntegrityError here."""
        self.db.add(user)
        await self.db.flush()
        return user

    async def provider_names(self, user_id: uuid.UUID) -> list[str]:
        result = await self.db.exec(
            select(OAuthAccount.provider)
            .where(OAuthAccount.user_id == user_id)
            .distinct()
            .order_by(col(OAuthAccount.provider))
        )
        return list(result.all())

    async def providers_for(self, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        if not user_ids:
            return {}
        result = await self.db.exec(
            select(OAuthAccount.user_id, OAuthAccount.provider)
            .where(col(OAuthAccount.user_id).in_(user_ids))
            .order_by(col(OAuthAccount.provider))
        )
        names: dict[uuid.UUID, list[str]] = {}
        for user_id, provider in result.all():
            listed = names.setdefault(user_id, [])
            if provider not in listed:
                listed.append(provider)
        return names

    async def search(
        self,
        *,
        email: str | None,
        role: Role | None,
        is_active: bool | None,
        offset: int,
        limit: int,
    ) -> tuple[list[User], int]:
        conditions: list[sa.ColumnElement[bool]] = []
        if email:
            escaped = email.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(col(User.email).contains(escaped, autoescape=False, escape="\\"))
        if role is not None:
            conditions.append(col(User.role) == role)
        if is_active is not None:
            conditions.append(col(User.is_active) == is_active)
        total = await self.db.exec(select(func.count()).select_from(User).where(*conditions))
        rows = await self.db.exec(
            select(User)
            .where(*conditions)
            .order_by(col(User.created_at), col(User.id))
            .offset(offset)
            .limit(limit)
        )
        return list(rows.all()), total.one()

    async def lock_active_admins(self) -> None:
        """Row-lock every active admin until the transaction ends (a no-op on SQLite,
        whose writers are serialised anyway)."""
        await self.db.exec(
            select(User.id)
            .where(col(User.role) == Role.ADMIN, col(User.is_active).is_(True))
            .with_for_update()
        )

    async def count_active_admins(self) -> int:
        result = await self.db.exec(
            select(func.count())
            .select_from(User)
            .where(col(User.role) == Role.ADMIN, col(User.is_active).is_(True))
        )
        return result.one()
