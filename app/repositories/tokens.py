from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import col, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import OneTimeToken, TokenPurpose


class OneTimeTokenRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def add(self, token: OneTimeToken) -> None:
        self.db.add(token)
        await self.db.flush()

    async def void_all(
        self, user_id: uuid.UUID, purpose: TokenPurpose | None, now: datetime
    ) -> None:
        """Spend every outstanding token of `purpose` (all purposes when None)."""
        conditions = [col(OneTimeToken.user_id) == user_id, col(OneTimeToken.used_at).is_(None)]
        if purpose is not None:
            conditions.append(col(OneTimeToken.purpose) == purpose)
        await self.db.exec(update(OneTimeToken).where(*conditions).values(used_at=now))

    async def consume(
        self, token_hash: str, purpose: TokenPurpose, now: datetime
    ) -> OneTimeToken | None:
        """Atomically spend a live token of this purpose; None (and nothing spent) otherwise."""
        result = await self.db.exec(
            update(OneTimeToken)
            .where(
                col(OneTimeToken.token_hash) == token_hash,
                col(OneTimeToken.purpose) == purpose,
                col(OneTimeToken.used_at).is_(None),
                col(OneTimeToken.expires_at) > now,
            )
            .values(used_at=now)
            .returning(OneTimeToken)
        )
        return result.scalars().first()

    async def take_code_attempt(
        self, user_id: uuid.UUID, now: datetime, *, max_attempts: int
    ) -> OneTimeToken | None:
        """Count one code attempt against the user's live magic link and return it.

        None when there is no live link, or its code has had `max_attempts`
        already: the count is taken before the code is compared, so however many
        attempts run at once, no more than `max_attempts` are ever compared.
        """
        result = await self.db.exec(
            update(OneTimeToken)
            .where(
                col(OneTimeToken.user_id) == user_id,
                col(OneTimeToken.purpose) == TokenPurpose.MAGIC_LINK,
                col(OneTimeToken.used_at).is_(None),
                col(OneTimeToken.expires_at) > now,
                col(OneTimeToken.code_hash).is_not(None),
                col(OneTimeToken.attempts) < max_attempts,
            )
            .values(attempts=col(OneTimeToken.attempts) + 1)
            .returning(OneTimeToken)
        )
        return result.scalars().first()

    async def spend(self, token_id: uuid.UUID, now: datetime) -> bool:
        """Spend one token if it is still unspent; True when this call spent it."""
        result = await self.db.exec(
            update(OneTimeToken)
            .where(col(OneTimeToken.id) == token_id, col(OneTimeToken.used_at).is_(None))
            .values(used_at=now)
            .returning(col(OneTimeToken.id))
        )
        return result.first() is not None
