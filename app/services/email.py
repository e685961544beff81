"""Verification and reset emails, sent after the response with retries.

Requests only queue a job; the job creates the token, renders and sends. The
request path therefore does the same work whether or not the address has an
account (no enumeration by timing), and a slow provider never delays a
response. A send that finally fails is logged and audited; the user can ask again.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.languages import choose_language
from app.email.base import EmailMessage
from app.email.delivery import deliver
from app.email.i18n import format_duration
from app.email.templates import render
from app.models import AuditEvent, TokenPurpose, User
from app.repositories.users import UserRepository
from app.services import audit, tokens
from app.services.context import ClientInfo, ServiceContext
from app.services.limits import check_account_limit
from app.utils.url_utils import frontend_link


def language_of(user: User) -> str:
    """The language of the user's mails: their locale, else their sign-up's, else English."""
    return choose_language([user.locale, user.signup_language])


class EmailService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # Queueing (called from request handlers' services) ---------------------

    def queue_verification(self, user_id: uuid.UUID, client: ClientInfo) -> None:
        self.ctx.background.submit("email:verify", lambda: self._verification_job(user_id, client))

    async def queue_verification_resend(self, email: str, client: ClientInfo) -> None:
        """Queue a new link if `email` has an unverified account (limited per address)."""
        await check_account_limit(self.ctx, "verify-email-resend", email)
        self.ctx.background.submit("email:verify", lambda: self._resend_job(email, client))

    async def queue_password_reset(self, email: str, client: ClientInfo) -> None:
        """Queue a reset link if `email` has an account (limited per address)."""
        await check_account_limit(self.ctx, "password-reset", email)
        self.ctx.background.submit("email:reset", lambda: self._reset_job(email, client))

    # Jobs --------------------------------------------------------------------

    async def _resend_job(self, email: str, client: ClientInfo) -> None:
        async with self.ctx.sessionmaker() as db:
            user = await UserRepository(db).get_by_email(email)
        if user is not None and not user.is_verified and user.is_active:
            await self._verification_job(user.id, client)

    async def _verification_job(self, user_id: uuid.UUID, client: ClientInfo) -> None:
        settings = self.ctx.settings
        ttl = timedelta(minutes=settings.VERIFY_TOKEN_EXPIRE_MINUTES)
        async with self.ctx.sessionmaker() as db:
            user = await UserRepository(db).get(user_id)
            if user is None or user.is_verified:
                return
            raw = await tokens.issue(db, self.ctx.clock, user.id, TokenPurpose.VERIFY_EMAIL, ttl)
            await db.commit()
        link = frontend_link(settings.FRONTEND_BASE_URL, "/verify-email", token=raw)
        message = self.message(user, "verify_email", link=link, ttl=ttl)
        await self.send(message, user.id, "verify_email", client)

    async def _reset_job(self, email: str, client: ClientInfo) -> None:
        settings = self.ctx.settings
        ttl = timedelta(minutes=settings.RESET_TOKEN_EXPIRE_MINUTES)
        async with self.ctx.sessionmaker() as db:
            user = await UserRepository(db).get_by_email(email)
            usable = user is not None and user.is_active
            audit.record(
                db,
                self.ctx.clock,
                AuditEvent.PASSWORD_RESET_REQUESTED,
                user_id=user.id if user else None,
                client=client,
                details={} if usable else {"sent": False},
            )
            raw = None
            if user is not None and usable:
                raw = await tokens.issue(
                    db, self.ctx.clock, user.id, TokenPurpose.PASSWORD_RESET, ttl
                )
            await db.commit()
        if user is None or raw is None:
            return
        link = frontend_link(settings.FRONTEND_BASE_URL, "/reset-password", token=raw)
        message = self.message(user, "reset_password", link=link, ttl=ttl)
        await self.send(message, user.id, "password_reset", client)

    # Building and sending (also used by other mailing services) ----------------

    def message(
        self, user: User, template: str, *, ttl: timedelta | None = None, **context: Any
    ) -> EmailMessage:
        """Mail `template` to `user`, in the user's language.

        `ttl` becomes `expires_in` ("15 minutes", "15 Minuten", ...).
        """
        language = language_of(user)
        if ttl is not None:
            context["expires_in"] = format_duration(ttl, language)
        # Until the owner has proven the address, the name is whatever a stranger
        # typed at registration: it must not ride along in our mail to anyone.
        name = user.full_name if user.is_verified else None
        rendered = render(template, language=language, name=name, **context)
        return EmailMessage(
            to=user.email,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            idempotency_key=f"{template}-{uuid.uuid4()}",
        )

    async def send(
        self, message: EmailMessage, user_id: uuid.UUID, kind: str, client: ClientInfo
    ) -> None:
        error = await deliver(
            self.ctx.email_sender, message, first_delay=self.ctx.email_retry_delay
        )
        if error is None:
            return
        async with self.ctx.sessionmaker() as db:
            await self._audit_failure(db, user_id, kind, error, client)

    async def _audit_failure(
        self, db: AsyncSession, user_id: uuid.UUID, kind: str, error: str, client: ClientInfo
    ) -> None:
        audit.record(
            db,
            self.ctx.clock,
            AuditEvent.EMAIL_SEND_FAILED,
            user_id=user_id,
            client=client,
            details={"kind": kind, "backend": self.ctx.email_sender.name, "error": error[:300]},
        )
        await db.commit()
