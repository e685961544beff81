"""Asking for a sign-in mail: the same 202 and the same work for every address.

Like the reset and resend mailers (app/services/email.py), the request only
checks its limits and queues a job; the job looks the address up, writes the
audit row either way, and mails a link and code only to an existing account.
An unknown address gets no mail and no account.
"""

from __future__ import annotations

from datetime import timedelta

from app.errors import InvalidRedirect
from app.models import AuditEvent
from app.repositories.users import UserRepository
from app.services import audit
from app.services.context import ClientInfo, ServiceContext
from app.services.email import EmailService
from app.services.email_signin import codes
from app.services.limits import check_account_limit
from app.utils.url_utils import UnsafeRedirect, frontend_link, safe_redirect

LINK_PATH = "/magic-link"


class MagicLinkRequests:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def request(self, *, email: str, redirect_to: str | None, client: ClientInfo) -> None:
        """Queue a sign-in mail for `email` (limited per address, known or not)."""
        target = self._redirect_target(redirect_to)
        await check_account_limit(self.ctx, "magic-link", email)
        self.ctx.background.submit("email:magic-link", lambda: self._job(email, target, client))

    def _redirect_target(self, redirect_to: str | None) -> str | None:
        """`redirect_to` resolved on the frontend (SPEC §6 "Redirect targets"), or None."""
        if not redirect_to:
            return None
        try:
            return safe_redirect(redirect_to, self.ctx.settings.FRONTEND_BASE_URL)
        except UnsafeRedirect as exc:
            raise InvalidRedirect() from exc

    async def _job(self, email: str, redirect_to: str | None, client: ClientInfo) -> None:
        ctx = self.ctx
        ttl = timedelta(minutes=ctx.settings.MAGIC_LINK_EXPIRE_MINUTES)
        async with ctx.sessionmaker() as db:
            user = await UserRepository(db).get_by_email(email)
            audit.record(
                db,
                ctx.clock,
                AuditEvent.MAGIC_LINK_REQUESTED,
                user_id=user.id if user else None,
                client=client,
                details={} if user else {"sent": False},
            )
            issued = await codes.issue(db, ctx, user.id, ttl) if user is not None else None
            await db.commit()
        if user is None or issued is None:
            return
        raw, code = issued
        params = {"token": raw} | ({"redirect_to": redirect_to} if redirect_to else {})
        link = frontend_link(ctx.settings.FRONTEND_BASE_URL, LINK_PATH, **params)
        mailer = EmailService(ctx)
        message = mailer.message(user, "magic_link", link=link, code=code, ttl=ttl)
        await mailer.send(message, user.id, "magic_link", client)
