"""Account lockout (SPEC §5), counted per normalised email, known or not.

State lives in the shared store under HMAC(email), so unknown emails lock
exactly like known ones and nothing in the store names an address.
"""

from __future__ import annotations

from datetime import datetime

from app.cache.base import Store
from app.config import Settings
from app.core.clock import Clock
from app.core.security import keyed_hash


class Lockout:
    def __init__(self, store: Store, settings: Settings, clock: Clock) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock

    def _id(self, email: str) -> str:
        return keyed_hash(self._settings.secret_key, "lockout:" + email)

    async def locked_until(self, email: str) -> datetime | None:
        value = await self._store.get(f"lock:until:{self._id(email)}")
        if value is None:
            return None
        until = datetime.fromisoformat(value)
        return until if until > self._clock.now() else None

    async def record_failure(self, email: str) -> datetime | None:
        """Count a failure; return the lock's end when this failure reaches the threshold.

        INCR is atomic, so under concurrent attempts exactly threshold-1 of them
        see a count below the threshold; every later one is told it is locked.
        """
        duration = self._settings.lockout_duration
        ident = self._id(email)
        count = await self._store.incr(f"lock:fail:{ident}", ttl=duration.total_seconds())
        if count < self._settings.ACCOUNT_LOCKOUT_THRESHOLD:
            return None
        until = self._clock.now() + duration
        if await self._store.set_if_absent(
            f"lock:until:{ident}", until.isoformat(), ttl=duration.total_seconds()
        ):
            await self._store.delete(f"lock:fail:{ident}")
            return until
        return await self.locked_until(email) or until

    async def clear(self, email: str) -> bool:
        """Lift a lock and forget failures; True when a lock was active."""
        ident = self._id(email)
        was_locked = await self.locked_until(email) is not None
        await self._store.delete(f"lock:until:{ident}", f"lock:fail:{ident}")
        return was_locked
