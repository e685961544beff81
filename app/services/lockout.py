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

    async def record_failure(self, email: str) -> tuple[datetime | None, bool]:
        """Count a failure. Returns (end of the lock or None, whether this call locked).

        INCR is atomic, so under concurrent attempts exactly threshold-1 of them
        see a count below the threshold; every later one is told it is locked,
        and only one of them places the lock (and is audited as doing so).
        """
        duration = self._settings.lockout_duration
        ttl = duration.total_seconds()
        ident = self._id(email)
        count = await self._store.incr(f"lock:fail:{ident}", ttl=ttl)
        if count < self._settings.ACCOUNT_LOCKOUT_THRESHOLD:
            return None, False
        until = self._clock.now() + duration
        key = f"lock:until:{ident}"
        placed = await self._store.set_if_absent(key, until.isoformat(), ttl=ttl)
        if not placed:
            current = await self.locked_until(email)
            if current is not None:
                return current, False
            await self._store.set(key, until.isoformat(), ttl=ttl)  # replace an ended lock
        await self._store.delete(f"lock:fail:{ident}")
        return until, True

    async def clear(self, email: str) -> bool:
        """Lift a lock and forget failures; True when a lock was active."""
        ident = self._id(email)
        was_locked = await self.locked_until(email) is not None
        await self._store.delete(f"lock:until:{ident}", f"lock:fail:{ident}")
        return was_locked
