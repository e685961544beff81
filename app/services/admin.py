"""Administration: accounts, roles, unlocks and the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from app.errors import LastAdmin, NotFound
from app.models import AuditEvent, Role
from app.repositories.audit import AuditRepository
from app.repositories.users import UserRepository
from app.schemas.admin import AuditOut, AuditPage, UserPage
from app.schemas.users import UserOut
from app.services import audit
from app.services.context import ClientInfo, ServiceContext
from app.services.lockout import Lockout
from app.services.principals import Principal
from app.services.sessions import SessionService
from app.services.users import user_out


class AdminService:
    def __init__(self, db: AsyncSession, ctx: ServiceContext) -> None:
        self.db = db
        self.ctx = ctx
        self.users = UserRepository(db)

    async def list_users(
        self, *, email: str | None, role: Role | None, is_active: bool | None, page: int, size: int
    ) -> UserPage:
        rows, total = await self.users.search(
            email=email.strip().lower() if email else None,
            role=role,
            is_active=is_active,
            offset=(page - 1) * size,
            limit=size,
        )
        providers = await self.users.providers_for([user.id for user in rows])
        items = [user_out(user, providers.get(user.id, [])) for user in rows]
        return UserPage(items=items, total=total, page=page, size=size)

    async def update_user(
        self,
        actor: Principal,
        user_id: uuid.UUID,
        *,
        role: Role | None,
        is_active: bool | None,
        client: ClientInfo,
    ) -> UserOut:
        """Change role and/or active flag. The last active admin cannot be removed."""
        # Lock the active admins first (PostgreSQL), so two demotions cannot race.
        await self.users.lock_active_admins()
        user = await self.users.get(user_id)
        if user is None:
            raise NotFound("User not found")
        previous_role, was_active = user.role, user.is_active
        if role is not None:
            user.role = role
        if is_active is not None:
            user.is_active = is_active
        if (user.role, user.is_active) == (previous_role, was_active):
            return user_out(user, await self.users.provider_names(user.id))
        user.updated_at = self.ctx.clock.now()
        self.db.add(user)
        await self.db.flush()
        if await self.users.count_active_admins() == 0:
            await self.db.rollback()
            raise LastAdmin()

        def record(event: AuditEvent, details: dict[str, object]) -> None:
            audit.record(
                self.db,
                self.ctx.clock,
                event,
                user_id=user.id,
                actor_id=actor.user.id,
                client=client,
                details=details,
            )

        if user.role != previous_role:
            record(AuditEvent.ROLE_CHANGED, {"from": previous_role.value, "to": user.role.value})
        if user.is_active != was_active:
            revoked: list[uuid.UUID] = []
            if not user.is_active:
                revoked = await SessionService(self.db, self.ctx).revoke_all(
                    user.id, reason="deactivated"
                )
            record(
                AuditEvent.USER_UPDATED,
                {
                    "fields": ["is_active"],
                    "is_active": user.is_active,
                    "sessions_revoked": len(revoked),
                },
            )
        await self.db.commit()
        await self.ctx.principals.forget_user(user.id)
        return user_out(user, await self.users.provider_names(user.id))

    async def unlock(self, actor: Principal, user_id: uuid.UUID, *, client: ClientInfo) -> bool:
        """Lift a lockout on the account; returns whether it was locked."""
        user = await self.users.get(user_id)
        if user is None:
            raise NotFound("User not found")
        was_locked = await Lockout(self.ctx.store, self.ctx.settings, self.ctx.clock).clear(
            user.email
        )
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.ACCOUNT_UNLOCKED,
            user_id=user.id,
            actor_id=actor.user.id,
            client=client,
            details={"was_locked": was_locked},
        )
        await self.db.commit()
        return was_locked

    async def audit_log(
        self,
        *,
        user_id: uuid.UUID | None,
        event: str | None,
        since: datetime | None,
        page: int,
        size: int,
    ) -> AuditPage:
        rows, total = await AuditRepository(self.db).search(
            user_id=user_id, event=event, since=since, offset=(page - 1) * size, limit=size
        )
        items = [AuditOut.model_validate(row, from_attributes=True) for row in rows]
        return AuditPage(items=items, total=total, page=page, size=size)
