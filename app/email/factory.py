from __future__ import annotations

import httpx

from app.config import Settings
from app.email.base import EmailSender
from app.email.console import ConsoleSender
from app.email.resend import ResendSender
from app.email.smtp import SmtpSender


def build_email_sender(settings: Settings, http: httpx.AsyncClient) -> EmailSender:
    """The backend EMAIL_BACKEND names (resend when RESEND_API_KEY is set, else console)."""
    backend = settings.email_backend
    if backend == "smtp":
        return SmtpSender(
            host=settings.SMTP_HOST,
            port=settings.SMTP_PORT,
            sender=settings.FROM_EMAIL,
            username=settings.SMTP_USERNAME,
            password=settings.SMTP_PASSWORD.get_secret_value() if settings.SMTP_PASSWORD else None,
            starttls=settings.SMTP_STARTTLS,
        )
    if backend == "resend":
        if settings.RESEND_API_KEY is None:
            raise ValueError("EMAIL_BACKEND=resend needs RESEND_API_KEY")
        return ResendSender(
            client=http,
            api_key=settings.RESEND_API_KEY.get_secret_value(),
            sender=settings.FROM_EMAIL,
            base_url=settings.RESEND_API_URL,
        )
    return ConsoleSender()
