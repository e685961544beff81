"""What a signed-in user can see and change about themselves."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import lru_cache

from sqlmodel.ext.asyncio.session import AsyncSession

from app.errors import NotFound
from app.models import AuditEvent, User
from app.repositories.sessions import SessionRepository
from app.repositories.users import UserRepository
from app.schemas.users import SessionOut, UserOut
from app.services import audit
from app.services.context import ClientInfo, ServiceContext
from app.services.principals import Principal, UserSnapshot
from app.services.sessions import SessionService, idle_since


def user_out(user: User | UserSnapshot, providers: Sequence[str]) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        role=user.role,
        is_active=user.is_active,
        is_verified=user.is_verified,
        created_at=user.created_at,
        oauth_providers=list(providers),
        locale=user.locale,
        mfa_enabled=user.mfa_enabled,
    )


@lru_cache(maxsize=4096)
def profile_json(user: UserSnapshot) -> bytes:
    """UserOut's JSON for a user snapshot, exactly as FastAPI would send it.

    Snapshots are immutable values, so one rendering serves every request that
    shows the same state of the user (a change makes a different snapshot).
    """
    return user_out(user, user.providers).model_dump_json(by_alias=True).encode()


class UserService:
    def __init__(self, db: AsyncSession, ctx: ServiceContext) -> None:
        self.db = db
        self.ctx = ctx
        self.users = UserRepository(db)

    async def update_profile(
        self, principal: Principal, *, changes: dict[str, object], client: ClientInfo
    ) -> UserOut:
        """Apply the allowed profile fields (the schema admits nothing else)."""
        user = await self.users.get(principal.user.id)
        if user is None:
            raise NotFound("User not found")
        changed = sorted(key for key, value in changes.items() if getattr(user, key) != value)
        for key in changed:
            setattr(user, key, changes[key])
        if changed:
            user.updated_at = self.ctx.clock.now()
            self.db.add(user)
            audit.record(
                self.db,
                self.ctx.clock,
                AuditEvent.USER_UPDATED,
                user_id=user.id,
                actor_id=user.id,
                client=client,
                details={"fields": changed},
            )
            await self.db.commit()
            await self.ctx.principals.forget_user(user.id)
        return user_out(user, principal.user.providers)

    async def sessions(self, principal: Principal) -> list[SessionOut]:
        now = self.ctx.clock.now()
        cutoff = idle_since(self.ctx.settings.SESSION_IDLE_TIMEOUT_MINUTES, now)
        rows = await SessionRepository(self.db).list_active(principal.user.id, now)
        # An idle session is dead even before a refresh finds it out; the caller's own
        # session is listed while its access token lives.
        rows = [
            r
            for r in rows
            if cutoff is None or r.last_used_at > cutoff or r.id == principal.session_id
        ]
        return [
            SessionOut(
                id=row.id,
                created_at=row.created_at,
                last_used_at=row.last_used_at,
                ip=row.ip,
                user_agent=row.user_agent,
                current=row.id == principal.session_id,
            )
            for row in rows
        ]

    async def revoke_session(
        self, principal: Principal, session_id: uuid.UUID, *, client: ClientInfo
    ) -> None:
        """Revoke one of the caller's sessions; anyone else's is "not found"."""
        session = await SessionRepository(self.db).get(session_id)
        if session is None or session.user_id != principal.user.id:
            raise NotFound("Session not found")
        revoked = await SessionService(self.db, self.ctx).revoke(session_id, reason="user_revoked")
        if not revoked:
            raise NotFound("Session not found")
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.SESSION_REVOKED,
            user_id=principal.user.id,
            actor_id=principal.user.id,
            client=client,
            details={"session_id": str(session_id)},
        )
        await self.db.commit()
