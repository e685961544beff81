"""Password reset and change."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from app.errors import InvalidToken, NoPassword, WrongPassword
from app.models import AuditEvent, TokenPurpose
from app.repositories.tokens import OneTimeTokenRepository
from app.repositories.users import UserRepository
from app.services import audit, tokens
from app.services.auth import check_new_password, check_password
from app.services.context import ClientInfo, ServiceContext
from app.services.limits import check_account_limit
from app.services.lockout import Lockout
from app.services.mfa import SecondFactor
from app.services.principals import Principal
from app.services.sessions import SessionService


class PasswordService:
    def __init__(self, db: AsyncSession, ctx: ServiceContext) -> None:
        self.db = db
        self.ctx = ctx
        self.users = UserRepository(db)
        self.sessions = SessionService(db, ctx)

    async def complete_reset(self, *, token: str, new_password: str, client: ClientInfo) -> None:
        """Set a new password with a reset token; sign out everywhere and lift any lockout."""
        clock = self.ctx.clock
        # Policy and breach check first: a refused password must not spend the token.
        await check_new_password(self.ctx, new_password)
        spent = await tokens.consume(self.db, clock, token, TokenPurpose.PASSWORD_RESET)
        user = await self.users.get(spent.user_id) if spent else None
        if user is None or not user.is_active:
            await self.db.rollback()
            raise InvalidToken()
        check_password(new_password, email=user.email)
        now = clock.now()
        user.hashed_password = await self.ctx.hasher.hash(new_password)
        # The link reached the mailbox, which proves the address.
        user.is_verified = True
        user.updated_at = now
        await OneTimeTokenRepository(self.db).void_all(user.id, TokenPurpose.PASSWORD_RESET, now)
        revoked = await self.sessions.revoke_all(user.id, reason="password_reset")
        if await Lockout(self.ctx.store, self.ctx.settings, clock).clear(user.email):
            audit.record(
                self.db,
                clock,
                AuditEvent.ACCOUNT_UNLOCKED,
                user_id=user.id,
                actor_id=user.id,
                client=client,
                details={"via": "password_reset"},
            )
        audit.record(
            self.db,
            clock,
            AuditEvent.PASSWORD_RESET_COMPLETED,
            user_id=user.id,
            actor_id=user.id,
            client=client,
            details={"sessions_revoked": len(revoked)},
        )
        await self.db.commit()
        await self.ctx.principals.forget_user(user.id)

    async def change(
        self,
        principal: Principal,
        *,
        current_password: str,
        new_password: str,
        client: ClientInfo,
        code: str | None = None,
    ) -> None:
        """Change the caller's password, sign out their other sessions and void
        outstanding reset links (one mailed before the change would undo it).

        With TOTP on, `code` (a TOTP or recovery code) is needed too (step-up).
        """
        user = await self.users.get(principal.user.id)
        if user is None:
            raise InvalidToken()
        if user.hashed_password is None:
            raise NoPassword()
        # A stolen access token must not become a password oracle: one budget per
        # account, whichever addresses the guesses come from (as login's).
        await check_account_limit(self.ctx, "change-password", str(user.id))
        # End the read transaction: no pooled connection is held while bcrypt runs.
        await self.db.commit()
        if not await self.ctx.hasher.verify(current_password, user.hashed_password):
            raise WrongPassword()
        await check_new_password(self.ctx, new_password, email=user.email)
        new_hash = await self.ctx.hasher.hash(new_password)
        factor = SecondFactor(self.db, self.ctx)
        accepted = None
        if user.mfa_enabled:
            accepted = await factor.require(user, code, client, action="change_password")
        now = self.ctx.clock.now()
        user.hashed_password = new_hash
        user.updated_at = now
        self.db.add(user)
        await OneTimeTokenRepository(self.db).void_all(user.id, TokenPurpose.PASSWORD_RESET, now)
        revoked = await self.sessions.revoke_all(
            user.id, reason="password_changed", keep=principal.session_id
        )
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.PASSWORD_CHANGED,
            user_id=user.id,
            actor_id=user.id,
            client=client,
            details={"sessions_revoked": len(revoked)},
        )
        await self.db.commit()
        if accepted is not None and accepted.left is not None:
            factor.mail_recovery_use(user, accepted.left, client)
