from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from app.email.base import EmailError, EmailMessage

LINK = re.compile(r"https?://\S+")


class Mailbox:
    """An EmailSender that keeps messages, for tests. `fail_with` makes sends fail."""

    name = "mailbox"

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.attempts = 0
        self.fail_with: list[EmailError] = []

    async def send(self, message: EmailMessage) -> None:
        self.attempts += 1
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.messages.append(message)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m.to == address]

    def link(self, address: str, path: str) -> str:
        """The newest link to `path` mailed to `address`."""
        for message in reversed(self.to(address)):
            for url in LINK.findall(message.text):
                if urlsplit(url).path == path:
                    return url
        raise AssertionError(f"no {path} link mailed to {address}")

    def token(self, address: str, path: str) -> str:
        return parse_qs(urlsplit(self.link(address, path)).query)["token"][0]
