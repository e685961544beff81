"""Resend backend against a mocked Resend API at the HTTP layer (respx)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import respx
from sqlmodel import select

from app.email.base import EmailError, EmailMessage, TransientEmailError
from app.email.delivery import deliver
from app.email.resend import ResendSender
from app.models import AuditLog
from tests.conftest import HarnessFactory
from tests.support.flows import register

API_URL = "https://api.resend.test"
MESSAGE = EmailMessage(
    to="to@example.com", subject="Hi", text="text body", html="<p>html</p>", idempotency_key="k-1"
)


@pytest.fixture
def resend_api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API_URL, assert_all_called=False) as router:
        yield router


async def _no_sleep(_: float) -> None:
    return None


async def test_sends_the_message_as_resend_expects(resend_api: respx.MockRouter) -> None:
    route = resend_api.post("/emails").respond(200, json={"id": "email-1"})
    async with httpx.AsyncClient() as client:
        sender = ResendSender(
            client=client, api_key="re_key", sender="A <a@x.test>", base_url=API_URL
        )
        await sender.send(MESSAGE)
    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer re_key"
    assert request.headers["idempotency-key"] == "k-1"
    assert json.loads(request.content) == {
        "from": "A <a@x.test>",
        "to": ["to@example.com"],
        "subject": "Hi",
        "html": "<p>html</p>",
        "text": "text body",
    }


async def test_a_5xx_is_retried_then_succeeds(resend_api: respx.MockRouter) -> None:
    route = resend_api.post("/emails")
    route.side_effect = [
        httpx.Response(503, json={"message": "busy"}),
        httpx.Response(500),
        httpx.Response(200, json={"id": "email-1"}),
    ]
    async with httpx.AsyncClient() as client:
        sender = ResendSender(client=client, api_key="k", sender="a@x.test", base_url=API_URL)
        assert await deliver(sender, MESSAGE, sleep=_no_sleep) is None
    assert route.call_count == 3


async def test_a_4xx_is_not_retried_and_is_reported(
    resend_api: respx.MockRouter,
) -> None:
    route = resend_api.post("/emails").respond(
        422, json={"name": "validation_error", "message": "Invalid `to` field"}
    )
    async with httpx.AsyncClient() as client:
        sender = ResendSender(client=client, api_key="k", sender="a@x.test", base_url=API_URL)
        error = await deliver(sender, MESSAGE, sleep=_no_sleep)
    assert route.call_count == 1
    assert error == "Resend 422: Invalid `to` field"


async def test_429_and_timeouts_are_transient(resend_api: respx.MockRouter) -> None:
    async with httpx.AsyncClient() as client:
        sender = ResendSender(client=client, api_key="k", sender="a@x.test", base_url=API_URL)
        resend_api.post("/emails").respond(429)
        with pytest.raises(TransientEmailError):
            await sender.send(MESSAGE)
        resend_api.post("/emails").mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(TransientEmailError):
            await sender.send(MESSAGE)
        resend_api.post("/emails").respond(401, json={"message": "bad key"})
        with pytest.raises(EmailError):
            await sender.send(MESSAGE)


async def test_gives_up_after_the_last_attempt(resend_api: respx.MockRouter) -> None:
    route = resend_api.post("/emails").respond(502)
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    async with httpx.AsyncClient() as client:
        sender = ResendSender(client=client, api_key="k", sender="a@x.test", base_url=API_URL)
        error = await deliver(sender, MESSAGE, attempts=4, first_delay=0.5, sleep=record)
    assert error == "Resend 502: Bad Gateway"
    assert route.call_count == 4
    assert delays == [0.5, 1.0, 2.0]  # exponential backoff between attempts


async def test_the_app_uses_resend_when_configured(
    make_harness: HarnessFactory, resend_api: respx.MockRouter
) -> None:
    route = resend_api.post("/emails")
    route.side_effect = [httpx.Response(500), httpx.Response(200, json={"id": "1"})]
    harness = await make_harness(
        RESEND_API_KEY="re_test_key",
        RESEND_API_URL=API_URL,
        EMAIL_BACKEND=None,
        FROM_EMAIL="Auth <auth@x.test>",
        app_kwargs={"email_sender": None},
    )
    assert harness.ctx.email_sender.name == "resend"
    response = await register(harness.client, "resend-user@example.com")
    assert response.status_code == 201
    await harness.settle()
    assert route.call_count == 2
    payload = json.loads(route.calls.last.request.content)
    assert payload["to"] == ["resend-user@example.com"]
    assert "http://frontend.test/verify-email?token=" in payload["text"]
    # Both attempts carry the same idempotency key, so Resend sends one email.
    keys = {call.request.headers["idempotency-key"] for call in route.calls}
    assert len(keys) == 1


async def test_a_refused_send_is_audited_and_logged_without_the_token(
    make_harness: HarnessFactory, resend_api: respx.MockRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    resend_api.post("/emails").respond(403, json={"message": "domain not verified"})
    harness = await make_harness(
        RESEND_API_KEY="re_test_key",
        RESEND_API_URL=API_URL,
        EMAIL_BACKEND="resend",
        app_kwargs={"email_sender": None},
    )
    await register(harness.client, "refused@example.com")
    await harness.settle()
    async with harness.ctx.sessionmaker() as db:
        [row] = (await db.exec(select(AuditLog).where(AuditLog.event == "email_send_failed"))).all()
    assert row.details == {
        "kind": "verify_email",
        "backend": "resend",
        "error": "Resend 403: domain not verified",
    }
    logs = capsys.readouterr().err
    failures = [line for line in logs.splitlines() if '"email_failed"' in line]
    assert failures, "a failed send is visible in the logs"
    assert "token=" not in logs
