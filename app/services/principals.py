"""The authenticated caller, cached so most requests never touch the database.

Two levels:
- this process's memory, for at most LOCAL_TTL (1 s): the bound on how long
  another process may still accept a session revoked elsewhere;
- the shared store (Redis when configured): `sess:<sid>` (owner and absolute
  expiry, or a revocation tombstone) and `user:<uid>` (what UserOut shows),
  read together in one round trip, with the database behind them.

Races are settled without locks:
- a revocation writes its tombstone before the transaction commits, and
  readers fill `sess:` only if absent, so a reader that saw the row before
  the commit can never re-cache the revoked session;
- a user change sets `ugen:<uid>` to a new random value after the commit,
  and a user entry is used only if it carries the current value, so an entry
  written from a row read before the commit is ignored. The value never
  repeats (a counter would restart when its key expires, and an old entry
  carrying a reused number would become valid again), and an entry is only
  ever written under a value that exists, so "no value yet" is never trusted.
While Redis is unreachable the store answers from per-process memory, which
no other process sees: user and session data then come from the database on
each miss of the 1 s local cache (only a tombstone there is believed: it can
only refuse). After the outage the shared entries are dropped, since deletes
made meanwhile never reached Redis.

Every shared lookup counts once in the cache statistics (hit: answered from
the shared store; miss: the database was asked).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.cache.base import PER_PROCESS_FALLBACK, StoreUnavailable
from app.cache.cache import Cache
from app.cache.resilient import RedisHealth
from app.core.clock import Clock
from app.models import Role

LOCAL_TTL = 1.0
SESSION_TTL = 300.0
USER_TTL = 60.0
# Outlives the user entries written under it, and restarts with every change.
GENERATION_TTL = 2 * USER_TTL
REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class UserSnapshot:
    """What the request path needs to know about a user (and what UserOut shows)."""

    id: uuid.UUID
    email: str
    full_name: str | None
    role: Role
    is_active: bool
    is_verified: bool
    created_at: datetime
    providers: tuple[str, ...]
    locale: str | None = None
    mfa_enabled: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "email": self.email,
            "full_name": self.full_name,
            "role": self.role.value,
            "is_active": self.is_active,
            "is_verified": self.is_verified,
            "created_at": self.created_at.isoformat(),
            "providers": list(self.providers),
            "locale": self.locale,
            "mfa_enabled": self.mfa_enabled,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UserSnapshot:
        return cls(
            id=uuid.UUID(data["id"]),
            email=data["email"],
            full_name=data["full_name"],
            role=Role(data["role"]),
            is_active=data["is_active"],
            is_verified=data["is_verified"],
            created_at=datetime.fromisoformat(data["created_at"]),
            providers=tuple(data["providers"]),
            locale=data.get("locale"),
            mfa_enabled=bool(data.get("mfa_enabled", False)),
        )


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: a snapshot of the user and their session."""

    user: UserSnapshot
    session_id: uuid.UUID
    session_expires_at: datetime
    # Set when the caller used a personal API key (then `session_id` is the key's
    # cache id and `session_expires_at` its expiry): refused on credential routes.
    api_key_id: uuid.UUID | None = None


class PrincipalCache:
    def __init__(
        self,
        cache: Cache,
        clock: Clock,
        *,
        timer: Callable[[], float] = time.monotonic,
        health: RedisHealth | None = None,
    ) -> None:
        # Reads go through the cache (which counts them); writes straight to its store.
        self._cache = cache
        self._health = health
        self._store = cache.store
        self._namespace = cache.namespace
        self._clock = clock
        self._timer = timer
        self._local: dict[uuid.UUID, tuple[float, Principal]] = {}
        self._loading: dict[uuid.UUID, tuple[int, asyncio.Task[Principal]]] = {}
        # Bumped by every revocation and user change: a load begun before one may
        # have read what it changed, so its result is neither joined nor kept.
        self._epoch = 0

    # Reading -------------------------------------------------------------------

    def local(self, session_id: uuid.UUID) -> Principal | None:
        entry = self._local.get(session_id)
        if entry is None:
            return None
        if entry[0] <= self._timer():
            del self._local[session_id]
            return None
        return entry[1]

    async def shared(
        self, session_id: uuid.UUID, user_id: uuid.UUID
    ) -> tuple[Principal | None, bool, str | None]:
        """(principal or None, whether the session is known revoked, user generation)."""
        # Trusted only if the store was shared Redis both before and after the read: a
        # read that began or ended in an outage, or in the recovery after one (when
        # Redis may still hold what was revoked meanwhile), may be stale.
        trusted = not self._per_process()
        raws = await self._cache.read_raw([_sess(session_id), _user(user_id), _gen(user_id)])
        trusted = trusted and not self._per_process()
        if raws is None:
            self._cache.record(hit=False)
            return None, False, None
        sess, user, generation = raws
        if sess == REVOKED:  # believed even from a per-process copy: it only refuses
            self._cache.record(hit=True)
            return None, True, generation
        principal = None
        if sess is not None and user is not None and trusted:
            owner, _, expires = sess.partition("|")
            snapshot = _decode_user(user, generation)
            if snapshot is not None and owner == str(user_id):
                principal = Principal(snapshot, session_id, datetime.fromisoformat(expires))
        self._cache.record(hit=principal is not None)
        return principal, False, generation

    def _per_process(self) -> bool:
        """Whether the store now answers from this process's memory (Redis away), or
        from Redis before its recovery has dropped what the outage left stale."""
        if self._health is not None and self._health.recovering:
            return True
        return self._store.backend == PER_PROCESS_FALLBACK

    async def load_once(
        self, session_id: uuid.UUID, load: Callable[[], Awaitable[Principal]]
    ) -> Principal:
        """Run `load` for a session not cached here, once however many requests ask.

        A page that fires many requests at once, or the 1 s expiry under
        load, would otherwise send each of them to the store or the database.
        The load finishes even if the request that started it goes away.
        """
        epoch = self._epoch
        loading = self._loading.get(session_id)
        if loading is None or loading[0] != epoch:
            task = asyncio.ensure_future(self._load_and_remember(load, epoch))
            self._loading[session_id] = (epoch, task)
            task.add_done_callback(lambda done: self._done_loading(session_id, done))
        else:
            task = loading[1]
        return await asyncio.shield(task)

    async def _load_and_remember(
        self, load: Callable[[], Awaitable[Principal]], epoch: int
    ) -> Principal:
        principal = await load()
        if epoch == self._epoch:
            self.remember(principal)
        return principal

    def _done_loading(self, session_id: uuid.UUID, task: asyncio.Task[Principal]) -> None:
        loading = self._loading.get(session_id)
        if loading is not None and loading[1] is task:
            del self._loading[session_id]

    # Writing -------------------------------------------------------------------

    def remember(self, principal: Principal) -> None:
        if len(self._local) > 10_000:
            now = self._timer()
            self._local = {k: v for k, v in self._local.items() if v[0] > now}
        self._local[principal.session_id] = (self._timer() + LOCAL_TTL, principal)

    async def store(self, principal: Principal, generation: str | None) -> None:
        """Cache a principal read from the database in the shared store (never over a
        tombstone, never in a per-process fallback). This process keeps it through
        `load_once`."""
        remaining = (principal.session_expires_at - self._clock.now()).total_seconds()
        ttl = min(SESSION_TTL, remaining)
        if ttl <= 0 or self._per_process():
            return
        user_id = principal.user.id
        try:
            if generation is None:
                # No change within GENERATION_TTL: start a value. If a change set one
                # meanwhile, the row read may predate it: cache nothing.
                generation = uuid.uuid4().hex
                if not await self._store.set_if_absent(
                    self._key(_gen(user_id)), generation, ttl=GENERATION_TTL
                ):
                    return
            sess = f"{user_id}|{principal.session_expires_at.isoformat()}"
            user = json.dumps({"gen": generation, **principal.user.to_json()})
            await self._store.set_if_absent(self._key(_sess(principal.session_id)), sess, ttl=ttl)
            await self._store.set(self._key(_user(user_id)), user, ttl=USER_TTL)
        except StoreUnavailable:
            pass  # a cache that cannot be written is only slower

    async def revoke(self, session_ids: list[uuid.UUID], *, ttl: float) -> None:
        """Mark sessions revoked for every process (call before the revocation commits)."""
        self._epoch += 1
        for session_id in session_ids:
            self._local.pop(session_id, None)
            await self._store.set(self._key(_sess(session_id)), REVOKED, ttl=ttl)

    async def forget_user(self, user_id: uuid.UUID) -> None:
        """The user changed (call after the change commits): stale copies are ignored."""
        self._epoch += 1
        for session_id in [k for k, (_, p) in self._local.items() if p.user.id == user_id]:
            self._local.pop(session_id, None)
        await self._store.set(self._key(_gen(user_id)), uuid.uuid4().hex, ttl=GENERATION_TTL)

    async def drop_shared(self) -> None:
        """Forget every shared entry (after a Redis outage: deletes may have been lost)."""
        self._epoch += 1
        for prefix in ("sess:", "user:"):
            await self._store.clear(self._key(prefix))

    def _key(self, key: str) -> str:
        return self._namespace + key


# Keys relative to the cache's namespace.
def _sess(session_id: uuid.UUID) -> str:
    return f"sess:{session_id}"


def _user(user_id: uuid.UUID) -> str:
    return f"user:{user_id}"


def _gen(user_id: uuid.UUID) -> str:
    return f"ugen:{user_id}"


def _decode_user(raw: str, generation: str | None) -> UserSnapshot | None:
    if generation is None:
        return None
    try:
        data = json.loads(raw)
        if data.pop("gen", None) != generation:
            return None
        return UserSnapshot.from_json(data)
    except (ValueError, KeyError, TypeError):
        return None
