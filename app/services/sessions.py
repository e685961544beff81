"""Sessions: one per signed-in device, with a rotating family of refresh tokens."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.crypto import Purpose
from app.core.jwt import AccessClaims
from app.core.security import hash_token, new_token
from app.errors import InvalidRefreshToken, NotAuthenticated
from app.models import AuditEvent, RefreshToken, Role, User, UserSession
from app.repositories.audit import AuditRepository
from app.repositories.sessions import (
    RefreshTokenRepository,
    Rotated,
    SessionRepository,
    rotate_sqlite,
)
from app.repositories.users import UserRepository
from app.schemas.auth import TokenPair
from app.services import audit
from app.services.context import ClientInfo, ServiceContext
from app.services.principals import Principal, UserSnapshot
from app.services.webhooks import outbox

log = structlog.get_logger(__name__)


class SessionService:
    def __init__(self, db: AsyncSession, ctx: ServiceContext) -> None:
        self.db = db
        self.ctx = ctx
        self.sessions = SessionRepository(db)
        self.refresh_tokens = RefreshTokenRepository(db)

    async def start(self, user: User, client: ClientInfo, *, amr: Sequence[str]) -> TokenPair:
        """Open a session for `user` and return its first token pair (caller commits).

        Only the sign-in gate (`app/services/signin.py`) calls this: every way
        to a session passes the second-factor check there first.
        """
        now = self.ctx.clock.now()
        session = await self.sessions.add(
            UserSession(
                user_id=user.id,
                user_agent=client.user_agent,
                ip=client.ip,
                created_at=now,
                last_used_at=now,
                expires_at=now + self.ctx.settings.refresh_token_ttl,
                amr=list(amr),
            )
        )
        raw = new_token()
        await self.refresh_tokens.add(
            RefreshToken(
                session_id=session.id,
                token_hash=hash_token(raw),
                created_at=self.ctx.clock.now(),
                expires_at=session.expires_at,
            )
        )
        pair = self._tokens(session.id, session.user_id, user.role, session.amr, raw)
        return pair.for_session(session.expires_at)

    def _successor_of(self, raw: str) -> str:
        """The refresh token that follows `raw`: derived, not drawn, so a second
        presentation within the reuse interval can hand out the same one again."""
        digest = self.ctx.cipher.mac(
            Purpose.REFRESH_SUCCESSOR, raw.encode("utf-8", "surrogatepass")
        )
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def _idle_since(self, now: datetime) -> datetime | None:
        return idle_since(self.ctx.settings.SESSION_IDLE_TIMEOUT_MINUTES, now)

    async def rotate(self, raw: str, client: ClientInfo) -> TokenPair:
        """Trade a refresh token for a new pair. A second use revokes the whole session,
        unless it comes within REFRESH_TOKEN_REUSE_INTERVAL_SECONDS of the first and the
        successor is still unused: then it gets that same successor (two tabs, one token)."""
        now = self.ctx.clock.now()
        token_hash = hash_token(raw)
        successor = self._successor_of(raw)
        options: dict[str, Any] = {
            "successor_id": uuid.uuid4(),
            "successor_hash": hash_token(successor),
            "now": now,
            "idle_since": self._idle_since(now),
        }
        writer = self.ctx.sqlite_writer
        if writer is not None:
            rotated = await writer.run(
                lambda connection: self._rotate_sqlite(connection, token_hash, client, options)
            )
        else:
            # The audit row is written by the same statement; its user and session
            # come from the token's session.
            entry = audit.entry(self.ctx.clock, AuditEvent.TOKEN_REFRESHED, client=client)
            rotated = await self.refresh_tokens.rotate(token_hash, audit_entry=entry, **options)
            await self.db.close()  # no transaction to commit: back to the pool at once
        if rotated is None:
            repeat = await self._refused(token_hash, successor, client, now)
            if repeat is None:
                raise InvalidRefreshToken()
            return repeat
        audit.count(AuditEvent.TOKEN_REFRESHED)
        outbox.wake()  # both paths wrote the event's outbox row (SPEC §7.5)
        return self._tokens(
            rotated.session_id, rotated.user_id, rotated.role, rotated.amr, successor
        ).for_session(rotated.expires_at)

    def _rotate_sqlite(
        self,
        connection: sa.Connection,
        token_hash: str,
        client: ClientInfo,
        options: dict[str, Any],
    ) -> Rotated | None:
        """The same writes on SQLite, run whole by the in-process writer (its transaction)."""
        rotated = rotate_sqlite(connection, token_hash, **options)
        if rotated is not None:
            row = audit.entry(
                self.ctx.clock,
                AuditEvent.TOKEN_REFRESHED,
                user_id=rotated.user_id,
                actor_id=rotated.user_id,
                client=client,
                details={"session_id": str(rotated.session_id)},
            )
            AuditRepository.insert_sync(connection, row)
            outbox.insert_sync(connection, row)
        return rotated

    def _tokens(
        self,
        session_id: uuid.UUID,
        user_id: uuid.UUID,
        role: Role,
        amr: Sequence[str],
        refresh_token: str,
    ) -> TokenPair:
        access = self.ctx.access_tokens.encode(
            user_id=user_id, session_id=session_id, role=role.value, amr=amr
        )
        return TokenPair(
            access_token=access,
            refresh_token=refresh_token,
            expires_in=self.ctx.access_tokens.ttl_seconds,
        )

    def _audit_refresh(
        self, user_id: uuid.UUID, session_id: uuid.UUID, client: ClientInfo, **extra: Any
    ) -> None:
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.TOKEN_REFRESHED,
            user_id=user_id,
            actor_id=user_id,
            client=client,
            details={"session_id": str(session_id), **extra},
        )

    async def _refused(
        self, token_hash: str, successor: str, client: ClientInfo, now: datetime
    ) -> TokenPair | None:
        """Why a refresh token was not rotated, and what follows: a repeat within the
        reuse interval gets the same successor again (returned), a reuse revokes the
        session, an idle session is revoked; anything else is just refused (None)."""
        await self.db.rollback()
        existing = await self.refresh_tokens.get_by_hash(token_hash)
        if existing is None:
            return None  # unknown: nothing to defend
        found = await self.sessions.get_with_user(existing.session_id)
        if found is None:
            return None
        session, user = found
        alive = session.revoked_at is None and session.expires_at > now and user.is_active
        if existing.used_at is None:
            idle_since = self._idle_since(now)
            if alive and idle_since is not None and session.last_used_at <= idle_since:
                await self.revoke(session.id, reason="idle_timeout")
                await self.db.commit()
            return None  # expired, or its session is dead
        interval = self.ctx.settings.REFRESH_TOKEN_REUSE_INTERVAL_SECONDS
        if alive and interval and now - existing.used_at <= timedelta(seconds=interval):
            child = await self.refresh_tokens.get_by_hash(hash_token(successor))
            if child is not None and child.parent_id == existing.id and child.used_at is None:
                self._audit_refresh(user.id, session.id, client, repeated=True)
                await self.db.commit()
                pair = self._tokens(session.id, user.id, user.role, session.amr, successor)
                return pair.for_session(session.expires_at)
        await self._handle_reuse(session, client)
        return None

    async def _handle_reuse(self, session: UserSession, client: ClientInfo) -> None:
        revoked = await self.revoke(session.id, reason="refresh_reuse")
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.REFRESH_TOKEN_REUSE,
            user_id=session.user_id,
            client=client,
            details={"session_id": str(session.id), "session_revoked": revoked},
        )
        await self.db.commit()
        log.warning("refresh_token_reuse", session_id=str(session.id))

    async def load_principal(self, session_id: uuid.UUID) -> Principal:
        """The caller behind a session, from the database (None-safe: raises when dead)."""
        found = await self.sessions.get_with_user(session_id)
        if found is None or found[0].revoked_at is not None:
            raise NotAuthenticated()
        session, user = found
        providers = await UserRepository(self.db).provider_names(user.id)
        return Principal(snapshot(user, providers), session.id, session.expires_at)

    async def _tombstone(self, session_ids: list[uuid.UUID]) -> None:
        # Written before the revocation commits: see app/services/principals.py.
        ttl = self.ctx.access_tokens.ttl_seconds + 60
        await self.ctx.principals.revoke(session_ids, ttl=ttl)

    async def revoke(self, session_id: uuid.UUID, *, reason: str) -> bool:
        """Revoke one session (caller commits). Its access tokens stop working at once."""
        await self._tombstone([session_id])
        return await self.sessions.revoke(session_id, now=self.ctx.clock.now(), reason=reason)

    async def revoke_all(
        self, user_id: uuid.UUID, *, reason: str, keep: uuid.UUID | None = None
    ) -> list[uuid.UUID]:
        """Revoke every session of a user except `keep` (caller commits)."""
        revoked = await self.sessions.revoke_all(
            user_id, now=self.ctx.clock.now(), reason=reason, keep=keep
        )
        await self._tombstone(revoked)
        return revoked

    async def live_session_of_refresh_token(self, raw: str) -> UserSession | None:
        """The live session a current (unused, unexpired) refresh token belongs to."""
        now = self.ctx.clock.now()
        token = await self.refresh_tokens.get_by_hash(hash_token(raw))
        if token is None or token.used_at is not None or token.expires_at <= now:
            return None
        session = await self.sessions.get(token.session_id)
        if session is None or session.revoked_at is not None or session.expires_at <= now:
            return None
        return session

    async def session_of_refresh_token(self, raw: str) -> UserSession | None:
        token = await self.refresh_tokens.get_by_hash(hash_token(raw))
        return None if token is None else await self.sessions.get(token.session_id)


def idle_since(timeout_minutes: int, now: datetime) -> datetime | None:
    """With an idle timeout, the last use a session needs after it to be alive; else None."""
    return now - timedelta(minutes=timeout_minutes) if timeout_minutes else None


def snapshot(user: User, providers: list[str]) -> UserSnapshot:
    return UserSnapshot(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        role=user.role,
        is_active=user.is_active,
        is_verified=user.is_verified,
        created_at=user.created_at,
        providers=tuple(providers),
        locale=user.locale,
        mfa_enabled=user.mfa_enabled,
    )


async def authenticate(ctx: ServiceContext, claims: AccessClaims) -> Principal:
    """Resolve a verified access token to a live session and an active user.

    Served from this process's memory (at most 1 s old), else from the shared
    cache, else from the database (and then cached): a database session is
    opened only on a miss, and concurrent misses for one session share a load.
    """
    principal = ctx.principals.local(claims.session_id)
    if principal is None:
        principal = await ctx.principals.load_once(
            claims.session_id, lambda: _load_principal(ctx, claims)
        )
    if (
        principal.user.id != claims.user_id
        or principal.session_expires_at <= ctx.clock.now()
        or not principal.user.is_active
    ):
        raise NotAuthenticated()
    return principal


async def _load_principal(ctx: ServiceContext, claims: AccessClaims) -> Principal:
    principals = ctx.principals
    principal, revoked, generation = await principals.shared(claims.session_id, claims.user_id)
    if revoked:
        raise NotAuthenticated()
    if principal is None:
        async with ctx.sessionmaker() as db:
            principal = await SessionService(db, ctx).load_principal(claims.session_id)
        await principals.store(principal, generation)
    return principal
