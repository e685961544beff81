"""Sessions: one per signed-in device, with a rotating family of refresh tokens."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.jwt import AccessClaims
from app.core.security import hash_token, new_token
from app.errors import InvalidRefreshToken, NotAuthenticated
from app.models import AuditEvent, RefreshToken, User, UserSession
from app.repositories.sessions import RefreshTokenRepository, SessionRepository
from app.repositories.users import UserRepository
from app.schemas.auth import TokenPair
from app.services import audit
from app.services.context import ClientInfo, ServiceContext
from app.services.principals import Principal, UserSnapshot

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
        return await self._pair(session, user, parent_id=None)

    async def _pair(
        self, session: UserSession, user: User, *, parent_id: uuid.UUID | None
    ) -> TokenPair:
        raw = new_token()
        await self.refresh_tokens.add(
            RefreshToken(
                session_id=session.id,
                parent_id=parent_id,
                token_hash=hash_token(raw),
                created_at=self.ctx.clock.now(),
                expires_at=session.expires_at,
            )
        )
        access = self.ctx.access_tokens.encode(
            user_id=session.user_id, session_id=session.id, role=user.role.value, amr=session.amr
        )
        return TokenPair(
            access_token=access,
            refresh_token=raw,
            expires_in=self.ctx.access_tokens.ttl_seconds,
        ).for_session(session.expires_at)

    async def rotate(self, raw: str, client: ClientInfo) -> TokenPair:
        """Trade a refresh token for a new pair. A second use revokes the whole session."""
        now = self.ctx.clock.now()
        token_hash = hash_token(raw)
        consumed = await self.refresh_tokens.consume(token_hash, now)
        if consumed is None:
            await self._handle_dead_token(token_hash, client)
            raise InvalidRefreshToken()
        found = await self.sessions.get_with_user(consumed.session_id)
        if found is None:
            raise InvalidRefreshToken()
        session, user = found
        if session.revoked_at is not None or session.expires_at <= now or not user.is_active:
            await self.db.rollback()
            raise InvalidRefreshToken()
        await self.sessions.touch(session.id, now)
        pair = await self._pair(session, user, parent_id=consumed.id)
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.TOKEN_REFRESHED,
            user_id=user.id,
            actor_id=user.id,
            client=client,
            details={"session_id": str(session.id)},
        )
        await self.db.commit()
        return pair

    async def _handle_dead_token(self, token_hash: str, client: ClientInfo) -> None:
        existing = await self.refresh_tokens.get_by_hash(token_hash)
        if existing is None or existing.used_at is None:
            return  # unknown, or expired without use: nothing to defend
        session = await self.sessions.get(existing.session_id)
        if session is None:
            return
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
