from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import RefreshToken, User, UserSession


class SessionRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def add(self, session: UserSession) -> UserSession:
        self.db.add(session)
        await self.db.flush()
        return session

    async def get(self, session_id: uuid.UUID) -> UserSession | None:
        return await self.db.get(UserSession, session_id)

    async def get_with_user(self, session_id: uuid.UUID) -> tuple[UserSession, User] | None:
        result = await self.db.exec(
            select(UserSession, User)
            .join(User, col(User.id) == col(UserSession.user_id))
            .where(UserSession.id == session_id)
        )
        row = result.first()
        return (row[0], row[1]) if row else None

    async def list_active(self, user_id: uuid.UUID, now: datetime) -> list[UserSession]:
        result = await self.db.exec(
            select(UserSession)
            .where(
                UserSession.user_id == user_id,
                col(UserSession.revoked_at).is_(None),
                col(UserSession.expires_at) > now,
            )
            .order_by(col(UserSession.last_used_at).desc())
        )
        return list(result.all())

    async def revoke(self, session_id: uuid.UUID, *, now: datetime, reason: str) -> bool:
        """Revoke one live session; False when it was already revoked or unknown."""
        result = await self.db.exec(
            update(UserSession)
            .where(col(UserSession.id) == session_id, col(UserSession.revoked_at).is_(None))
            .values(revoked_at=now, revoke_reason=reason)
        )
        return bool(result.rowcount)

    async def revoke_all(
        self,
        user_id: uuid.UUID,
        *,
        now: datetime,
        reason: str,
        keep: uuid.UUID | None = None,
    ) -> list[uuid.UUID]:
        """Revoke every live session of a user (but `keep`); return the ids revoked."""
        conditions = [col(UserSession.user_id) == user_id, col(UserSession.revoked_at).is_(None)]
        if keep is not None:
            conditions.append(col(UserSession.id) != keep)
        result = await self.db.exec(
            update(UserSession)
            .where(*conditions)
            .values(revoked_at=now, revoke_reason=reason)
            .returning(col(UserSession.id))
        )
        return list(result.scalars().all())

    async def touch(self, session_id: uuid.UUID, now: datetime) -> None:
        await self.db.exec(
            update(UserSession).where(col(UserSession.id) == session_id).values(last_used_at=now)
        )


class RefreshTokenRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def add(self, token: RefreshToken) -> None:
        self.db.add(token)
        await self.db.flush()

    async def consume(self, token_hash: str, now: datetime) -> RefreshToken | None:
        """Mark the token used in one statement; None if unknown, used or expired.

        The conditional UPDATE is the atomic step: of two concurrent refreshes
        with one token, exactly one gets a row back.
        """
        result = await self.db.exec(
            update(RefreshToken)
            .where(
                col(RefreshToken.token_hash) == token_hash,
                col(RefreshToken.used_at).is_(None),
                col(RefreshToken.expires_at) > now,
            )
            .values(used_at=now)
            .returning(RefreshToken)
        )
        return result.scalars().first()

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        result = await self.db.exec(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        )
        return result.first()
