from __future__ import annotations

from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid

import aiosmtplib

from app.email.base import EmailError, EmailMessage, TransientEmailError

SMTP_TIMEOUT_SECONDS = 10


class SmtpSender:
    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout: float = SMTP_TIMEOUT_SECONDS,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout

    def build(self, message: EmailMessage) -> MimeMessage:
        mime = MimeMessage()
        mime["From"] = self._sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
        domain = self._sender.rpartition("@")[2].rstrip(">") or None
        mime["Message-ID"] = make_msgid(domain=domain)
        mime.set_content(message.text)
        mime.add_alternative(message.html, subtype="html")
        return mime

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                self.build(message),
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                start_tls=self._starttls,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPResponseException as exc:
            error = f"SMTP {exc.code}: {exc.message}"
            # 4xx replies are "try again later"; 5xx are final.
            raise (TransientEmailError if 400 <= exc.code < 500 else EmailError)(error) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TransientEmailError(f"SMTP: {type(exc).__name__}: {exc}") from exc
