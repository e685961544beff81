from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class EmailMessage:
    to: str
    subject: str
    text: str
    html: str
    # Lets a provider drop a duplicate when a retry follows a lost response.
    idempotency_key: str | None = None


class EmailError(Exception):
    """Sending failed for good (the provider refused the message)."""


class TransientEmailError(EmailError):
    """Sending failed in a way that may pass: timeout, 5xx, 429, connection refused."""


class EmailSender(Protocol):
    name: str

    async def send(self, message: EmailMessage) -> None:
        """Deliver `message` or raise EmailError / TransientEmailError."""
        ...
