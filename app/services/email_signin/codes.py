"""A magic link and its code, as one row of `one_time_tokens` (purpose `magic_link`).

The link's token is stored as its SHA-256 like every one-time token. The code
is stored as an HMAC keyed with SECRET_KEY and bound to its row, so a database
dump alone does not let anyone run through the million codes offline, and a
code is compared (in constant time) only with the row it was issued for.
Spending the row, by the link or by the code, kills both.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.security import hash_token, keyed_hash, new_token
from app.models import OneTimeToken, TokenPurpose
from app.repositories.tokens import OneTimeTokenRepository
from app.services.context import ServiceContext

CODE_DIGITS = 6
# Wrong codes a code takes before it dies, with its link (SPEC §7.4).
MAX_CODE_ATTEMPTS = 5
# Wrong codes an address takes per day, over all its codes (a new mail brings a new
# code with five attempts of its own). Past this the code route refuses every code
# for the address until the day is over; its links keep working.
DAILY_CODE_FAILURES = 20
DAY_SECONDS = 86_400.0
# What a code is compared with when there is no live link: the same work, never a match.
_NO_CODE = "0" * 64


def new_code() -> str:
    """A uniformly random 6-digit code (leading zeros kept)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_digest(key: bytes, token_id: uuid.UUID, code: str) -> str:
    return keyed_hash(key, f"email-code:{token_id}:{code}")


def code_matches(key: bytes, row: OneTimeToken | None, code: str) -> bool:
    """Constant-time comparison of `code` with the row's; False without a row."""
    expected = row.code_hash if row is not None and row.code_hash else _NO_CODE
    token_id = row.id if row is not None else uuid.UUID(int=0)
    return hmac.compare_digest(code_digest(key, token_id, code), expected) and row is not None


def failures_key(key: bytes, email: str) -> str:
    """The store key counting an address's wrong codes (names no address)."""
    return f"ecode:fail:{keyed_hash(key, 'email-code:' + email)}"


async def issue(
    db: AsyncSession, ctx: ServiceContext, user_id: uuid.UUID, ttl: timedelta
) -> tuple[str, str]:
    """A new link token and code for the user, voiding older ones (caller commits)."""
    repo = OneTimeTokenRepository(db)
    now = ctx.clock.now()
    await repo.void_all(user_id, TokenPurpose.MAGIC_LINK, now)
    raw, code = new_token(), new_code()
    row = OneTimeToken(
        user_id=user_id,
        purpose=TokenPurpose.MAGIC_LINK,
        token_hash=hash_token(raw),
        created_at=now,
        expires_at=now + ttl,
    )
    row.code_hash = code_digest(ctx.settings.secret_key, row.id, code)
    await repo.add(row)
    return raw, code
