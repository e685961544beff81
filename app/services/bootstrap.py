"""Creating administrators: `backend create-admin` and FIRST_ADMIN_* at start-up."""

from __future__ import annotations

from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import AuditEvent, Role, User
from app.repositories.tokens import OneTimeTokenRepository
from app.repositories.users import UserRepository
from app.services import audit
from app.services.auth import AuthService, check_new_password
from app.services.context import ServiceContext
from app.services.lockout import Lockout
from app.services.sessions import SessionService


class AdminOutcome(StrEnum):
    CREATED = "created"
    # A verified account (its owner proved the address): promoted, password kept.
    PROMOTED = "promoted"
    # An unverified account (anyone could have registered it): the given password
    # replaces the registrant's, and everything they could still use is revoked.
    TAKEN_OVER = "taken over"
    # Already an active, verified admin.
    UNCHANGED = "unchanged"
    # Without `promote`: an account that is not an active, verified admin, left so.
    LEFT_AS_IS = "left as is"


async def ensure_admin(
    db: AsyncSession, ctx: ServiceContext, *, email: str, password: str, promote: bool
) -> tuple[User, AdminOutcome]:
    """Make `email` a verified, active admin that signs in with `password`.

    A new account is created. Without `promote` (FIRST_ADMIN_* at start-up) an
    existing account is left as it is. With `promote` (`backend create-admin`)
    the password first passes the policy and breach check, as at registration;
    then a verified account is promoted and keeps its own password, and an
    unverified one is taken over: whoever registered the address first never
    proved it, so their password, name, language, sessions, refresh tokens and
    one-time links all go, and the operator's password is set (SPEC §6).
    """
    existing = await UserRepository(db).get_by_email(email)
    if existing is None:
        user = await AuthService(db, ctx).create_user(
            email=email, password=password, role=Role.ADMIN, verified=True
        )
        audit.record(
            db, ctx.clock, AuditEvent.REGISTER, user_id=user.id, details={"via": "bootstrap"}
        )
        await db.commit()
        return user, AdminOutcome.CREATED
    already = existing.role == Role.ADMIN and existing.is_active and existing.is_verified
    if not promote:
        return existing, AdminOutcome.UNCHANGED if already else AdminOutcome.LEFT_AS_IS
    await check_new_password(ctx, password, email=email)
    if existing.is_verified:
        if already:
            return existing, AdminOutcome.UNCHANGED
        details: dict[str, object] = {}
        outcome = AdminOutcome.PROMOTED
    else:
        details = await _take_over(db, ctx, existing, password)
        outcome = AdminOutcome.TAKEN_OVER
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
        details={"from": previous.value, "to": Role.ADMIN.value, "via": "bootstrap", **details},
    )
    await db.commit()
    await ctx.principals.forget_user(existing.id)
    return existing, outcome


async def _take_over(
    db: AsyncSession, ctx: ServiceContext, user: User, password: str
) -> dict[str, object]:
    """Replace what the unproven registrant set up (the caller commits)."""
    now = ctx.clock.now()
    user.hashed_password = await ctx.hasher.hash(password)
    user.full_name = None
    user.locale = None
    user.signup_language = None
    await OneTimeTokenRepository(db).void_all(user.id, None, now)
    revoked = await SessionService(db, ctx).revoke_all(user.id, reason="admin_takeover")
    # Wrong guesses by anyone must not keep the new admin out.
    await Lockout(ctx.store, ctx.settings, ctx.clock).clear(user.email)
    return {"takeover": True, "password_set": True, "sessions_revoked": len(revoked)}
