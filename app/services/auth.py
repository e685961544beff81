"""Registration, login, logout and email verification."""

from __future__ import annotations

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.languages import accept_language as preferred_language
from app.core.password_policy import password_problem
from app.errors import (
    AccountDisabled,
    AccountLocked,
    EmailNotVerified,
    EmailTaken,
    InvalidCredentials,
    InvalidRefreshToken,
    InvalidToken,
    WeakPassword,
)
from app.models import AuditEvent, Role, TokenPurpose, User
from app.repositories.users import UserRepository
from app.schemas.auth import TokenPair
from app.services import audit, tokens
from app.services.context import ClientInfo, ServiceContext
from app.services.email import EmailService
from app.services.limits import check_account_limit
from app.services.lockout import Lockout
from app.services.principals import Principal
from app.services.sessions import SessionService
from app.services.signin import AMR_PASSWORD, SignInMethod, finish_sign_in, refuse_sign_in

log = structlog.get_logger(__name__)


def check_password(password: str, *, email: str | None = None) -> None:
    """Raise WeakPassword unless `password` meets the policy."""
    problem = password_problem(password, email=email)
    if problem:
        raise WeakPassword(problem)


async def check_new_password(
    ctx: ServiceContext, password: str, *, email: str | None = None
) -> None:
    """Every path that sets a password: the policy (WeakPassword), then the breach
    check (BreachedPassword; fails open)."""
    check_password(password, email=email)
    await ctx.breach_check.check(password)


class AuthService:
    def __init__(self, db: AsyncSession, ctx: ServiceContext) -> None:
        self.db = db
        self.ctx = ctx
        self.users = UserRepository(db)
        self.sessions = SessionService(db, ctx)
        self.lockout = Lockout(ctx.store, ctx.settings, ctx.clock)
        self.email = EmailService(ctx)

    async def create_user(
        self,
        *,
        email: str,
        password: str | None,
        full_name: str | None = None,
        role: Role = Role.USER,
        verified: bool = False,
        locale: str | None = None,
        signup_language: str | None = None,
    ) -> User:
        """Insert a user (caller commits). A duplicate email raises EmailTaken."""
        if password is not None:
            await check_new_password(self.ctx, password, email=email)
        # Hash before the first query: a registration does not hold a pooled connection
        # while it waits for bcrypt, and a taken address costs the same time as a new one.
        hashed = await self.ctx.hasher.hash(password) if password is not None else None
        if await self.users.get_by_email(email) is not None:
            raise EmailTaken()
        now = self.ctx.clock.now()
        user = User(
            email=email,
            full_name=full_name,
            hashed_password=hashed,
            role=role,
            is_verified=verified,
            locale=locale,
            signup_language=signup_language,
            created_at=now,
            updated_at=now,
        )
        try:
            return await self.users.add(user)
        except IntegrityError as exc:  # lost a race with a concurrent registration
            await self.db.rollback()
            raise EmailTaken() from exc

    async def register(
        self,
        *,
        email: str,
        password: str,
        full_name: str | None,
        client: ClientInfo,
        locale: str | None = None,
        accept_language: str | None = None,
    ) -> User:
        """Create an unverified account and mail a verification link.

        The account's mails are in `locale` when it names a supported language,
        else in the one the request's `Accept-Language` prefers (remembered),
        else in English.
        """
        user = await self.create_user(
            email=email,
            password=password,
            full_name=full_name,
            locale=locale,
            signup_language=preferred_language(accept_language),
        )
        audit.record(self.db, self.ctx.clock, AuditEvent.REGISTER, user_id=user.id, client=client)
        await self.db.commit()
        self.email.queue_verification(user.id, client)
        return user

    async def login(self, *, email: str, password: str, client: ClientInfo) -> TokenPair:
        """Check credentials with equal work on every branch (SECURITY rule 1)."""
        await check_account_limit(self.ctx, "login", email)
        user = await self.users.get_by_email(email)
        # Read, release, hash, then write: ending the read transaction gives the
        # pooled connection back before bcrypt runs (tens of milliseconds), so a
        # burst of sign-ins cannot hold the whole pool while it waits for CPU.
        # The user row stays loaded (sessions do not expire objects on commit).
        await self.db.commit()
        # Always pay for bcrypt: unknown emails are checked against a dummy hash.
        password_ok = await self.ctx.hasher.verify(password, user.hashed_password if user else None)
        locked_until = await self.lockout.locked_until(email)
        if locked_until is not None:
            await self._login_failed(user, client, reason="locked")
            raise AccountLocked(locked_until)
        if not password_ok or user is None:
            locked_until, newly_locked = await self.lockout.record_failure(email)
            await self._login_failed(
                user, client, reason="bad_credentials", newly_locked=newly_locked
            )
            if locked_until is not None:
                raise AccountLocked(locked_until)
            raise InvalidCredentials()
        if not user.is_verified:
            await self._login_failed(user, client, reason="email_not_verified")
            raise EmailNotVerified()
        if not user.is_active:
            await self._login_failed(user, client, reason="account_disabled")
            raise AccountDisabled()
        if not user.mfa_enabled:
            await self.lockout.clear(email)
        # With a second factor due, failures are forgiven only once it is given
        # (app/services/mfa.py): a password alone must not reset the count of
        # wrong codes, or each new mfa_token would bring five fresh guesses.
        if self.ctx.hasher.needs_rehash(user.hashed_password or ""):
            user.hashed_password = await self.ctx.hasher.hash(password)
        return await finish_sign_in(
            self.db,
            self.ctx,
            user,
            client,
            method=SignInMethod.PASSWORD,
            amr=[AMR_PASSWORD],
        )

    async def _login_failed(
        self,
        user: User | None,
        client: ClientInfo,
        *,
        reason: str,
        newly_locked: bool = False,
    ) -> None:
        if newly_locked:
            user_id = user.id if user else None
            audit.record(
                self.db, self.ctx.clock, AuditEvent.ACCOUNT_LOCKED, user_id=user_id, client=client
            )
        await refuse_sign_in(
            self.db, self.ctx, user, client, method=SignInMethod.PASSWORD, reason=reason
        )

    async def verify_email(self, *, token: str, client: ClientInfo) -> None:
        """Spend a verification token and mark the address verified."""
        spent = await tokens.consume(self.db, self.ctx.clock, token, TokenPurpose.VERIFY_EMAIL)
        if spent is None:
            raise InvalidToken()
        user = await self.users.get(spent.user_id)
        if user is None:
            raise InvalidToken()
        if not user.is_verified:
            user.is_verified = True
            user.updated_at = self.ctx.clock.now()
            audit.record(
                self.db, self.ctx.clock, AuditEvent.EMAIL_VERIFIED, user_id=user.id, client=client
            )
        await self.db.commit()
        await self.ctx.principals.forget_user(user.id)

    async def logout(
        self, principal: Principal, *, refresh_token: str | None, client: ClientInfo
    ) -> None:
        """Revoke the caller's session, and the refresh token's session if it is theirs."""
        user_id = principal.user.id
        revoked = [principal.session_id]
        await self.sessions.revoke(principal.session_id, reason="logout")
        if refresh_token:
            other = await self.sessions.session_of_refresh_token(refresh_token)
            if other is not None and other.user_id == user_id and other.id not in revoked:
                await self.sessions.revoke(other.id, reason="logout")
                revoked.append(other.id)
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.LOGOUT,
            user_id=user_id,
            actor_id=user_id,
            client=client,
            details={"session_ids": [str(sid) for sid in revoked]},
        )
        await self.db.commit()

    async def logout_with_refresh_token(self, refresh_token: str, *, client: ClientInfo) -> None:
        """Revoke the session a current refresh token names, with no access token.

        For a browser tab that holds only the refresh cookie (SPEC §7.6).
        """
        session = await self.sessions.live_session_of_refresh_token(refresh_token)
        if session is None:
            raise InvalidRefreshToken()
        await self.sessions.revoke(session.id, reason="logout")
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.LOGOUT,
            user_id=session.user_id,
            actor_id=session.user_id,
            client=client,
            details={"session_ids": [str(session.id)]},
        )
        await self.db.commit()

    async def logout_all(self, principal: Principal, *, client: ClientInfo) -> None:
        """Revoke every session of the caller."""
        user_id = principal.user.id
        revoked = await self.sessions.revoke_all(user_id, reason="logout_all")
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.LOGOUT_ALL,
            user_id=user_id,
            actor_id=user_id,
            client=client,
            details={"sessions": len(revoked)},
        )
        await self.db.commit()
