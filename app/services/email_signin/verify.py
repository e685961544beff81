"""Signing in with the emailed link or code.

Either one proves control of the mailbox, so a success also marks the address
verified. It honours `is_active` and ends in the sign-in gate, which asks for
the second factor of an account that has one. It neither checks nor lifts the
password lockout: the lock guards the password, and wrong codes are counted
apart from it. Neither path runs bcrypt.
"""

from __future__ import annotations

import uuid
from typing import NoReturn

from sqlmodel.ext.asyncio.session import AsyncSession

from app.errors import AccountDisabled, InvalidToken
from app.models import AuditEvent, OneTimeToken, TokenPurpose, User
from app.repositories.tokens import OneTimeTokenRepository
from app.repositories.users import UserRepository
from app.schemas.auth import TokenPair
from app.services import audit, tokens
from app.services.context import ClientInfo, ServiceContext
from app.services.email_signin import codes
from app.services.limits import check_account_limit
from app.services.sessions import SessionService
from app.services.signin import AMR_EMAIL, SignInMethod, finish_sign_in, refuse_sign_in

# Looked up when the address has no account: the same query, matching nothing.
_NOBODY = uuid.UUID(int=0)


class EmailSignIn:
    def __init__(self, db: AsyncSession, ctx: ServiceContext) -> None:
        self.db = db
        self.ctx = ctx
        self.users = UserRepository(db)
        self.tokens = OneTimeTokenRepository(db)

    async def with_link(self, *, token: str, client: ClientInfo) -> TokenPair:
        """Spend a magic link (its code dies with it) and sign its owner in."""
        spent = await tokens.consume(self.db, self.ctx.clock, token, TokenPurpose.MAGIC_LINK)
        user = await self.users.get(spent.user_id) if spent else None
        if user is None:
            await self.db.rollback()
            raise InvalidToken()
        return await self._sign_in(user, client, method=SignInMethod.MAGIC_LINK)

    async def with_code(self, *, email: str, code: str, client: ClientInfo) -> TokenPair:
        """Spend the code mailed to `email` (its link dies with it) and sign in.

        Shares login's per-account budget. Unknown addresses, addresses without
        a live code and wrong codes all answer alike (400 invalid_token).
        """
        ctx = self.ctx
        key = ctx.settings.secret_key
        await check_account_limit(ctx, "login", email)
        user = await self.users.get_by_email(email)
        failures = codes.failures_key(key, email)
        if int(await ctx.store.get(failures) or 0) >= codes.DAILY_CODE_FAILURES:
            await self._wrong_code(user, None, failures, client, reason="too_many_codes")
        now = ctx.clock.now()
        row = await self.tokens.take_code_attempt(
            user.id if user else _NOBODY, now, max_attempts=codes.MAX_CODE_ATTEMPTS
        )
        # The attempt counts whatever happens next (a crash included).
        await self.db.commit()
        matched = codes.code_matches(key, row, code)
        if user is None or row is None or not matched:
            await self._wrong_code(user, row, failures, client, reason="wrong_code")
        if not await self.tokens.spend(row.id, now):  # its link was used meanwhile
            await self.db.rollback()
            raise InvalidToken()
        return await self._sign_in(user, client, method=SignInMethod.EMAIL_CODE)

    async def _wrong_code(
        self,
        user: User | None,
        row: OneTimeToken | None,
        failures: str,
        client: ClientInfo,
        *,
        reason: str,
    ) -> NoReturn:
        """Record a refused code and raise InvalidToken; the fifth kills the code and link."""
        if row is not None and row.attempts >= codes.MAX_CODE_ATTEMPTS:
            await self.tokens.spend(row.id, self.ctx.clock.now())
        await self.ctx.store.incr(failures, ttl=codes.DAY_SECONDS)
        await refuse_sign_in(
            self.db, self.ctx, user, client, method=SignInMethod.EMAIL_CODE, reason=reason
        )
        raise InvalidToken()

    async def _sign_in(self, user: User, client: ClientInfo, *, method: SignInMethod) -> TokenPair:
        """The link or code is spent (in this transaction): check the account, open a session."""
        ctx = self.ctx
        if not user.is_active:
            await refuse_sign_in(
                self.db, ctx, user, client, method=method, reason="account_disabled"
            )
            raise AccountDisabled()
        proved = not user.is_verified
        if proved:
            await self._prove_address(user, client, method=method)
        # Committed before the gate: a sign-in that now waits for its second factor
        # has still spent its link or code.
        await self.db.commit()
        if proved:
            await ctx.principals.forget_user(user.id)
        return await finish_sign_in(self.db, ctx, user, client, method=method, amr=[AMR_EMAIL])

    async def _prove_address(self, user: User, client: ClientInfo, *, method: SignInMethod) -> None:
        """Mark the address verified, taking over what a stranger may have set up.

        Until now, anyone could have registered this address with a password of
        their choosing (pre-registration hijacking). The mailbox's owner is the
        one signing in, so, as with a social login into an unverified account
        (SPEC §5), that password is cleared and outstanding verification and
        reset links are voided; the owner sets a password by a reset if they
        want one.
        """
        ctx = self.ctx
        now = ctx.clock.now()
        details: dict[str, object] = {"via": method.value}
        if user.hashed_password is not None:
            user.hashed_password = None
            details["password_cleared"] = True
        user.is_verified = True
        user.updated_at = now
        self.db.add(user)
        for purpose in (TokenPurpose.VERIFY_EMAIL, TokenPurpose.PASSWORD_RESET):
            await self.tokens.void_all(user.id, purpose, now)
        revoked = await SessionService(self.db, ctx).revoke_all(user.id, reason="email_takeover")
        if revoked:
            details["sessions_revoked"] = len(revoked)
        audit.record(
            self.db,
            ctx.clock,
            AuditEvent.EMAIL_VERIFIED,
            user_id=user.id,
            actor_id=user.id,
            client=client,
            details=details,
        )
