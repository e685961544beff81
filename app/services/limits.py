"""Per-account rate limits, checked by services once they know the email.

Keys are HMACs of the normalised email, so known and unknown addresses are
treated exactly alike and the store never names an address.
"""

from __future__ import annotations

from app.core.ratelimit import Limit
from app.core.security import keyed_hash
from app.errors import RateLimited
from app.services.context import ServiceContext


async def check_account_limit(ctx: ServiceContext, action: str, account: str) -> None:
    """Count one `action` for `account` (a normalised email, or a user id once the
    caller is signed in); raise RateLimited over AUTH_RATE_LIMIT_PER_MINUTE."""
    limit = Limit(f"{action}-account", ctx.settings.AUTH_RATE_LIMIT_PER_MINUTE)
    key = keyed_hash(ctx.settings.secret_key, f"{action}:{account}")
    decision = await ctx.limiter.hit(limit, key)
    if not decision.allowed:
        raise RateLimited()
