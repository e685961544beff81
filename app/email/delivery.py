from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from app.email.base import EmailError, EmailMessage, EmailSender, TransientEmailError

log = structlog.get_logger("app.email")

Sleep = Callable[[float], Awaitable[None]]


async def deliver(
    sender: EmailSender,
    message: EmailMessage,
    *,
    attempts: int = 4,
    first_delay: float = 1.0,
    sleep: Sleep = asyncio.sleep,
) -> str | None:
    """Send with exponential backoff on transient errors.

    Returns None on success, else the last error text. Logs name the recipient
    and subject only: the body holds a token.
    """
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            await sender.send(message)
        except TransientEmailError as exc:
            error = str(exc)
            if attempt == attempts:
                break
            log.warning("email_retry", backend=sender.name, attempt=attempt, error=error)
            await sleep(delay)
            delay *= 2
        except EmailError as exc:
            error = str(exc)
            break
        else:
            log.info("email_sent", backend=sender.name, to=message.to, subject=message.subject)
            return None
    log.error(
        "email_failed", backend=sender.name, to=message.to, subject=message.subject, error=error
    )
    return error
