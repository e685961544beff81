"""SMTP delivery against a real SMTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from app.email.base import EmailError, EmailMessage, TransientEmailError
from app.email.smtp import SmtpSender
from app.models import AuditLog
from tests.conftest import HarnessFactory
from tests.support.flows import API, PASSWORD, login, new_email, register
from tests.support.smtp import Inbox, free_port, smtp_server


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


def sender(port: int) -> SmtpSender:
    return SmtpSender(
        host="127.0.0.1", port=port, sender="Auth <no-reply@auth.example>", starttls=False
    )


MESSAGE = EmailMessage(
    to="to@example.com",
    subject="Hello",
    text="Plain body https://frontend.test/x?token=abc",
    html="<p>HTML body</p>",
)


async def test_message_has_both_parts_and_headers(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    await sender(port).send(MESSAGE)
    [received] = inbox.messages
    assert received["To"] == "to@example.com"
    assert received["From"] == "Auth <no-reply@auth.example>"
    assert received["Subject"] == "Hello"
    assert received["Message-ID"].endswith("@auth.example>")
    assert received.get_content_type() == "multipart/alternative"
    plain = received.get_body(("plain",))
    html = received.get_body(("html",))
    assert plain is not None and "token=abc" in plain.get_content()
    assert html is not None and "<p>HTML body</p>" in html.get_content()
    assert inbox.envelopes == [("no-reply@auth.example", ["to@example.com"])]


async def test_permanent_and_transient_failures(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    inbox.reply = "550 No such user"
    with pytest.raises(EmailError) as permanent:
        await sender(port).send(MESSAGE)
    assert not isinstance(permanent.value, TransientEmailError)
    inbox.reply = "451 Try again later"
    with pytest.raises(TransientEmailError):
        await sender(port).send(MESSAGE)
    with pytest.raises(TransientEmailError):
        await sender(free_port()).send(MESSAGE)  # nothing listens there


async def test_verification_and_reset_arrive_with_working_links(
    make_harness: HarnessFactory, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    harness = await make_harness(
        EMAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
        SMTP_STARTTLS=False,
        app_kwargs={"email_sender": None},
    )
    email = new_email()
    await register(harness.client, email, full_name="<b>Mallory</b>")
    await harness.settle()
    [verify] = inbox.messages
    assert verify["Subject"] == "Confirm your email address"
    html = verify.get_body(("html",))
    # The address is not proven yet: nothing the registrant typed is in the mail.
    assert html is not None and "Mallory" not in html.get_content()
    token = _token(verify, "/verify-email")
    assert (
        await harness.client.post(f"{API}/auth/verify-email", json={"token": token})
    ).status_code == 200

    await harness.client.post(f"{API}/auth/password-reset", json={"email": email})
    await harness.settle()
    reset = inbox.messages[-1]
    assert reset["Subject"] == "Reset your password"
    html = reset.get_body(("html",))  # to the proven address, with the name, escaped
    assert html is not None and "&lt;b&gt;Mallory&lt;/b&gt;" in html.get_content()
    response = await harness.client.post(
        f"{API}/auth/password-reset/complete",
        json={"token": _token(reset, "/reset-password"), "new_password": "new sturdy passphrase"},
    )
    assert response.status_code == 200
    assert (await login(harness.client, email, PASSWORD)).status_code == 401
    assert (await login(harness.client, email, "new sturdy passphrase")).status_code == 200


async def test_a_down_mail_server_is_retried_then_audited(make_harness: HarnessFactory) -> None:
    harness = await make_harness(
        EMAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=free_port(),
        SMTP_STARTTLS=False,
        app_kwargs={"email_sender": None},
    )
    response = await register(harness.client)
    assert response.status_code == 201  # the request does not wait for, or fail with, the mail
    await harness.settle()
    async with harness.ctx.sessionmaker() as db:
        rows = (await db.exec(select(AuditLog).where(AuditLog.event == "email_send_failed"))).all()
    assert len(rows) == 1
    assert rows[0].details["kind"] == "verify_email" and rows[0].details["backend"] == "smtp"
    assert "token" not in str(rows[0].details)


def _token(message: object, path: str) -> str:
    from email.message import EmailMessage as Mime

    assert isinstance(message, Mime)
    plain = message.get_body(("plain",))
    assert plain is not None
    for word in plain.get_content().split():
        parts = urlsplit(word)
        if parts.path == path:
            return parse_qs(parts.query)["token"][0]
    raise AssertionError(f"no {path} link")
