from __future__ import annotations

import structlog

from app.email.base import EmailMessage

log = structlog.get_logger("app.email")


class ConsoleSender:
    """Development backend: writes the whole message, link included, to the log."""

    name = "console"

    async def send(self, message: EmailMessage) -> None:
        log.info("email_console", to=message.to, subject=message.subject, body=message.text)
