"""Who a provider identity is here: linked, linked by email, taken over or created.

Identity is (provider, provider user id). An email links an identity to an
existing account only when the provider has verified it AND the account is
verified. An unverified account with that email was never proven to belong
to anyone, so the OAuth login takes it over (password cleared, sessions
revoked, outstanding verify and reset tokens voided): a pre-registration
hijacker loses everything they set up.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import AuditEvent, OAuthAccount, TokenPurpose, User
from app.repositories.oauth_accounts import OAuthAccountRepository
from app.repositories.tokens import OneTimeTokenRepository
from app.repositories.users import UserRepository
from app.schemas.common import normalise_email
from app.services import audit
from app.services.context import ClientInfo, ServiceContext
from app.services.oauth.base import (
    AccountDisabled,
    EmailUnverified,
    ProviderError,
    ProviderIdentity,
)
from app.services.sessions import SessionService

SUBJECT_MAX = 255


@dataclass(frozen=True, slots=True)
class LinkResult:
    user: User
    # "existing" (identity already linked), "email", "takeover" or "new_user".
    via: str


class AccountLinker:
    def __init__(self, db: AsyncSession, ctx: ServiceContext) -> None:
        self.db = db
        self.ctx = ctx
        self.users = UserRepository(db)
        self.accounts = OAuthAccountRepository(db)

    async def resolve(self, identity: ProviderIdentity, client: ClientInfo) -> LinkResult:
        """Find, link or create the user for `identity` (caller commits).

        A concurrent first login with the same identity or email loses the
        insert race; the second attempt then finds what the winner wrote.
        """
        try:
            return await self._resolve(identity, client)
        except IntegrityError:
            await self.db.rollback()
        try:
            return await self._resolve(identity, client)
        except IntegrityError as exc:
            await self.db.rollback()
            raise ProviderError("link_conflict") from exc

    async def _resolve(self, identity: ProviderIdentity, client: ClientInfo) -> LinkResult:
        if len(identity.subject) > SUBJECT_MAX:
            raise ProviderError("malformed_subject")
        link = await self.accounts.get(identity.provider, identity.subject)
        if link is not None:
            user = await self.users.get(link.user_id)
            if user is None:
                raise ProviderError("dangling_link")
            _check_active(user)
            latest = _email(identity, strict=False)
            if latest and link.email != latest:
                link.email = latest  # informational; never used to find the user
                self.db.add(link)
            return LinkResult(user, "existing")
        email = _email(identity, strict=True)
        user = await self.users.get_by_email(email) if email else None
        if email is None or not identity.email_verified:
            # Also when no account has this email: an address nobody proved
            # must not become the key to password reset here.
            raise EmailUnverified("provider_email_unverified", user_id=user.id if user else None)
        if user is None:
            user = await self._create(identity, email, client)
            via = "new_user"
        elif user.is_verified:
            _check_active(user)
            via = "email"
        else:
            _check_active(user)
            await self._take_over(user, identity, client)
            via = "takeover"
        now = self.ctx.clock.now()
        await self.accounts.add(
            OAuthAccount(
                user_id=user.id,
                provider=identity.provider,
                provider_user_id=identity.subject,
                email=email,
                created_at=now,
            )
        )
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.OAUTH_LINKED,
            user_id=user.id,
            actor_id=user.id,
            client=client,
            details={"provider": identity.provider, "via": via},
        )
        return LinkResult(user, via)

    async def _create(self, identity: ProviderIdentity, email: str, client: ClientInfo) -> User:
        now = self.ctx.clock.now()
        user = await self.users.add(
            User(
                email=email,
                full_name=identity.name,
                hashed_password=None,
                is_verified=True,
                created_at=now,
                updated_at=now,
            )
        )
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.REGISTER,
            user_id=user.id,
            client=client,
            details={"via": "oauth", "provider": identity.provider},
        )
        return user

    async def _take_over(self, user: User, identity: ProviderIdentity, client: ClientInfo) -> None:
        now = self.ctx.clock.now()
        user.hashed_password = None
        user.is_verified = True
        # The unproven registrant chose this name; the provider's is the owner's.
        user.full_name = identity.name
        user.updated_at = now
        self.db.add(user)
        tokens = OneTimeTokenRepository(self.db)
        await tokens.void_all(user.id, TokenPurpose.VERIFY_EMAIL, now)
        await tokens.void_all(user.id, TokenPurpose.PASSWORD_RESET, now)
        revoked = await SessionService(self.db, self.ctx).revoke_all(
            user.id, reason="oauth_takeover"
        )
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.EMAIL_VERIFIED,
            user_id=user.id,
            client=client,
            details={
                "via": "oauth_takeover",
                "provider": identity.provider,
                "password_cleared": True,
                "sessions_revoked": len(revoked),
            },
        )


def _email(identity: ProviderIdentity, *, strict: bool) -> str | None:
    """The provider's address, normalised like ours (SPEC §6); malformed is an error if strict."""
    if identity.email is None:
        return None
    try:
        return normalise_email(identity.email)
    except ValueError as exc:
        if strict:
            raise ProviderError("malformed_email") from exc
        return None


def _check_active(user: User) -> None:
    if not user.is_active:
        raise AccountDisabled("account_disabled", user_id=user.id)
