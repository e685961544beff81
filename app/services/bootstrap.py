"""Creating administrators: `backend create-admin` and FIRST_ADMIN_* at start-up."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import AuditEvent, Role, User
from app.repositories.users import UserRepository
from app.services import audit
from app.services.auth import AuthService
from app.services.context import ServiceContext


async def ensure_admin(
    db: AsyncSession, ctx: ServiceContext, *, email: str, password: str, promote: bool
) -> tuple[User, bool]:
    """Create a verified, active admin. Returns the user and whether it was created.

    An existing account keeps its password; with `promote` it becomes an
    active, verified admin, otherwise it is left as it is.
    """
    existing = await UserRepository(db).get_by_email(email)
    if existing is not None:
        needs_change = (
            existing.role != Role.ADMIN or not existing.is_active or not existing.is_verified
        )
        if promote and needs_change:
            previous = existing.role
            existing.role = Role.ADMIN
            existing.is_active = True
            existing.is_verified = True
            existing.updated_at = ctx.clock.now()
            db.add(existing)
            audit.record(
                db,
                ctx.clock,
                AuditEvent.ROLE_CHANGED,
                user_id=existing.id,
                details={"from": previous.value, "to": Role.ADMIN.value, "via": "bootstrap"},
            )
            await db.commit()
            await ctx.principals.forget_user(existing.id)
        return existing, False
    user = await AuthService(db, ctx).create_user(
        email=email, password=password, role=Role.ADMIN, verified=True
    )
    audit.record(db, ctx.clock, AuditEvent.REGISTER, user_id=user.id, details={"via": "bootstrap"})
    await db.commit()
    return user, True
