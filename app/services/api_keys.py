"""Personal API keys: created once-shown, stored hashed, acting as their user.

A key is resolved like a session (app/services/sessions.py `authenticate`):
this process's memory for at most 1 s, else the database. Its cache entry is
keyed by an id derived from the key's hash, so deleting a key drops it here
at once (and everywhere within the 1 s local cache, as for sessions); a
deactivated user is dropped by the same user-change path as their sessions;
an expired key fails on the principal's expiry, checked on every request.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.security import hash_token
from app.database.locks import lock_transaction
from app.errors import NotAuthenticated, NotFound, TooManyApiKeys
from app.models import ApiKey, AuditEvent
from app.repositories.api_keys import ApiKeyRepository
from app.repositories.users import UserRepository
from app.schemas.api_keys import ApiKeyCreatedOut, ApiKeyOut
from app.services import audit
from app.services.context import ClientInfo, ServiceContext
from app.services.principals import Principal
from app.services.sessions import snapshot

KEY_PREFIX = "ak_"
MAX_LIVE_KEYS = 20
SHOWN_PREFIX = 11  # "ak_" and 8 random characters
LAST_USED_STALENESS = timedelta(seconds=60)
NEVER = datetime(9999, 1, 1, tzinfo=UTC)


def is_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def cache_id(key_hash: str) -> uuid.UUID:
    """The key's id in the principal cache (never a session id: those are random UUIDs)."""
    return uuid.UUID(hex=key_hash[:32])


def api_key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        created_at=key.created_at,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
    )


class ApiKeyService:
    def __init__(self, db: AsyncSession, ctx: ServiceContext) -> None:
        self.db = db
        self.ctx = ctx
        self.keys = ApiKeyRepository(db)

    async def create(
        self, principal: Principal, *, name: str, expires_in_days: int | None, client: ClientInfo
    ) -> ApiKeyCreatedOut:
        """Make a key for the caller; the key itself is returned only here."""
        user_id = principal.user.id
        # Two creations at once must not both pass the limit.
        await lock_transaction(self.db, f"api-keys:{user_id}")
        now = self.ctx.clock.now()
        await self.keys.delete_expired(user_id, now)
        if await self.keys.count_live(user_id, now) >= MAX_LIVE_KEYS:
            await self.db.rollback()
            raise TooManyApiKeys()
        raw = KEY_PREFIX + secrets.token_urlsafe(32)
        key = await self.keys.add(
            ApiKey(
                user_id=user_id,
                name=name,
                prefix=raw[:SHOWN_PREFIX],
                key_hash=hash_token(raw),
                created_at=now,
                expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
            )
        )
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.API_KEY_CREATED,
            user_id=user_id,
            actor_id=user_id,
            client=client,
            details={"api_key_id": str(key.id), "name": name, "prefix": key.prefix},
        )
        await self.db.commit()
        return ApiKeyCreatedOut(**api_key_out(key).model_dump(), key=raw)

    async def mine(self, principal: Principal) -> list[ApiKeyOut]:
        rows = await self.keys.list_live(principal.user.id, self.ctx.clock.now())
        return [api_key_out(key) for key in rows]

    async def delete(self, principal: Principal, key_id: uuid.UUID, *, client: ClientInfo) -> None:
        """Delete one of the caller's keys; it stops working at once."""
        key_hash = await self.keys.delete_own(principal.user.id, key_id)
        if key_hash is None:
            raise NotFound("API key not found")
        # Before the commit, as for sessions: no reader can cache it afterwards.
        await self.ctx.principals.revoke(
            [cache_id(key_hash)], ttl=self.ctx.access_tokens.ttl_seconds + 60
        )
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.API_KEY_REVOKED,
            user_id=principal.user.id,
            actor_id=principal.user.id,
            client=client,
            details={"api_key_id": str(key_id)},
        )
        await self.db.commit()


async def authenticate_key(ctx: ServiceContext, raw: str) -> Principal:
    """Resolve an `ak_` key to its user; 401 when unknown, expired or the user is inactive."""
    key_hash = hash_token(raw)
    principal_id = cache_id(key_hash)
    principal = ctx.principals.local(principal_id)
    if principal is None:
        principal = await ctx.principals.load_once(
            principal_id, lambda: _load(ctx, key_hash, principal_id)
        )
    if principal.session_expires_at <= ctx.clock.now() or not principal.user.is_active:
        raise NotAuthenticated()
    return principal


async def _load(ctx: ServiceContext, key_hash: str, principal_id: uuid.UUID) -> Principal:
    now = ctx.clock.now()
    async with ctx.sessionmaker() as db:
        found = await ApiKeyRepository(db).get_with_user(key_hash)
        if found is None:
            raise NotAuthenticated()
        key, user = found
        # Loaded at most once a second per process: last_used_at stays within a minute.
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_STALENESS:
            await ApiKeyRepository(db).touch(key.id, now)
            await db.commit()
        providers = await UserRepository(db).provider_names(user.id)
    return Principal(
        snapshot(user, providers),
        principal_id,
        key.expires_at or NEVER,
        api_key_id=key.id,
    )
