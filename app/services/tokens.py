"""One-time tokens (verify, reset, OAuth exchange): random, hashed, single use."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.clock import Clock
from app.core.security import hash_token, new_token
from app.models import OneTimeToken, TokenPurpose
from app.repositories.tokens import OneTimeTokenRepository


async def issue(
    db: AsyncSession, clock: Clock, user_id: uuid.UUID, purpose: TokenPurpose, ttl: timedelta
) -> str:
    """Create a token of `purpose` for the user, voiding older ones; return the raw token."""
    repo = OneTimeTokenRepository(db)
    now = clock.now()
    await repo.void_all(user_id, purpose, now)
    raw = new_token()
    await repo.add(
        OneTimeToken(
            user_id=user_id,
            purpose=purpose,
            token_hash=hash_token(raw),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return raw


async def consume(
    db: AsyncSession, clock: Clock, raw: str, purpose: TokenPurpose
) -> OneTimeToken | None:
    """Spend the token if it is live and of this purpose; a miss spends nothing."""
    return await OneTimeTokenRepository(db).consume(hash_token(raw), purpose, clock.now())
