"""Breached passwords (SPEC §7.4): Pwned Passwords' range API on every path that sets a
password, k-anonymity, fail open with a pause, answers cached by prefix."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlmodel import select

from app.models import User
from tests.conftest import Harness, HarnessFactory
from tests.support import prom
from tests.support.fake_services import SETTINGS, FakeServices, Fault, sha1
from tests.support.flows import API, JSON, PASSWORD, bearer, new_email, register

BREACHED = "P@ssw0rd-from-a-breach"
ZERO_COUNT = "listed with a count of zero"
CLEAN = "an unlisted sturdy passphrase"


async def start(make_harness: HarnessFactory, **overrides: Any) -> tuple[Harness, FakeServices]:
    fakes = FakeServices()
    harness = await make_harness(
        app_kwargs={"http_transport": fakes.transport}, **{**SETTINGS, **overrides}
    )
    return harness, fakes


async def checks(harness: Harness, result: str) -> float:
    text = (await harness.client.get("/metrics")).text
    return prom.value(text, "auth_password_breach_checks_total", result=result)


def assert_code(response: Any, code: str) -> None:
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code


async def test_a_breached_password_is_refused_at_register(make_harness: HarnessFactory) -> None:
    harness, fakes = await start(make_harness)
    email = new_email()
    response = await register(harness.client, email, BREACHED)
    assert_code(response, "breached_password")
    assert "breach" in response.json()["detail"]
    assert (await register(harness.client, email, CLEAN)).status_code == 201


async def test_only_five_hex_characters_of_the_sha1_leave_with_padding_asked_for(
    make_harness: HarnessFactory,
) -> None:
    harness, fakes = await start(make_harness)
    await register(harness.client, new_email(), BREACHED)
    ((path, headers),) = fakes.range_requests
    digest = sha1(BREACHED)
    assert path == f"/range/{digest[:5]}"
    assert headers["add-padding"] == "true"
    sent = path + repr(headers)
    for leak in (BREACHED, digest, digest.lower(), digest[5:], digest[5:].lower()):
        assert leak not in sent


async def test_a_listed_suffix_with_count_zero_is_not_a_breach(
    make_harness: HarnessFactory,
) -> None:
    harness, _ = await start(make_harness)
    assert (await register(harness.client, new_email(), ZERO_COUNT)).status_code == 201
    assert await checks(harness, "clean") >= 1


async def test_the_policy_answers_first(make_harness: HarnessFactory) -> None:
    harness, fakes = await start(make_harness)
    response = await register(harness.client, new_email(), "short")
    assert_code(response, "weak_password")
    assert fakes.range_requests == []


async def test_reset_complete_refuses_a_breached_password_without_spending_the_token(
    make_harness: HarnessFactory,
) -> None:
    harness, _ = await start(make_harness)
    email = await harness.user()
    await harness.client.post(f"{API}/auth/password-reset", json={"email": email})
    await harness.settle()
    token = harness.mailbox.token(email, "/reset-password")
    url = f"{API}/auth/password-reset/complete"
    response = await harness.client.post(url, json={"token": token, "new_password": BREACHED})
    assert_code(response, "breached_password")
    response = await harness.client.post(url, json={"token": token, "new_password": CLEAN})
    assert response.status_code == 200, response.text


async def test_change_password_refuses_a_breached_password(make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness)
    email = await harness.user()
    pair = await harness.login(email)
    response = await harness.client.post(
        f"{API}/users/change-password",
        json={"current_password": PASSWORD, "new_password": BREACHED},
        headers={**bearer(pair["access_token"]), **JSON},
    )
    assert_code(response, "breached_password")
    assert (await harness.login(email))["access_token"]  # the old password still works


async def test_first_admin_with_a_breached_password_is_not_created(
    make_harness: HarnessFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    email = new_email("admin")
    harness, fakes = await start(
        make_harness, FIRST_ADMIN_EMAIL=email, FIRST_ADMIN_PASSWORD=BREACHED
    )
    assert len(fakes.range_requests) == 1
    async with harness.ctx.sessionmaker() as db:
        assert (await db.exec(select(User).where(User.email == email))).first() is None
    assert "breached_password" in capsys.readouterr().err


async def test_create_admin_refuses_a_breached_password(make_harness: HarnessFactory) -> None:
    from app.errors import BreachedPassword
    from app.services.bootstrap import ensure_admin

    harness, _ = await start(make_harness)
    async with harness.ctx.sessionmaker() as db:
        with pytest.raises(BreachedPassword):
            await ensure_admin(
                db, harness.ctx, email=new_email("admin"), password=BREACHED, promote=True
            )


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=503),
        Fault(timeout=True),
        Fault(body="<html><body>Service unavailable</body></html>"),
        Fault(body="0018A45C4D1DEF81644B54AB7F969B88D65:1\nnot a line"),
        Fault(body=""),
    ],
    ids=["503", "timeout", "html", "half-garbage", "empty"],
)
async def test_no_usable_answer_fails_open_logs_counts_and_pauses(
    make_harness: HarnessFactory, capsys: pytest.CaptureFixture[str], fault: Fault
) -> None:
    harness, fakes = await start(make_harness)
    fakes.pwned_fault = fault
    failed = await checks(harness, "failed")
    response = await register(harness.client, new_email(), BREACHED)
    assert response.status_code == 201, response.text
    assert await checks(harness, "failed") == failed + 1
    assert "password_breach_check_unavailable" in capsys.readouterr().err

    # For the next 60 s nothing is asked, even once the service is back.
    fakes.pwned_fault = None
    paused = await checks(harness, "paused")
    harness.clock.advance(seconds=59)
    assert (await register(harness.client, new_email(), BREACHED)).status_code == 201
    assert len(fakes.range_requests) == 1
    assert await checks(harness, "paused") == paused + 1

    harness.clock.advance(seconds=2)
    assert_code(await register(harness.client, new_email(), BREACHED), "breached_password")
    assert len(fakes.range_requests) == 2


async def test_a_silent_service_is_given_up_on_within_two_seconds(
    make_harness: HarnessFactory,
) -> None:
    harness, fakes = await start(make_harness)
    fakes.pwned_fault = Fault(hang=True)
    started = time.monotonic()
    response = await register(harness.client, new_email(), BREACHED)
    elapsed = time.monotonic() - started
    assert response.status_code == 201, response.text
    assert 1.9 <= elapsed < 3.0


async def test_answers_are_cached_by_prefix_for_an_hour(make_harness: HarnessFactory) -> None:
    harness, fakes = await start(make_harness)
    assert_code(await register(harness.client, new_email(), BREACHED), "breached_password")
    assert_code(await register(harness.client, new_email(), BREACHED), "breached_password")
    assert len(fakes.range_requests) == 1
    harness.clock.advance(minutes=59)
    assert_code(await register(harness.client, new_email(), BREACHED), "breached_password")
    assert len(fakes.range_requests) == 1
    harness.clock.advance(minutes=2)
    assert_code(await register(harness.client, new_email(), BREACHED), "breached_password")
    assert len(fakes.range_requests) == 2


async def test_turned_off_nothing_is_asked(make_harness: HarnessFactory) -> None:
    harness, fakes = await start(make_harness, PASSWORD_BREACH_CHECK=False)
    assert (await register(harness.client, new_email(), BREACHED)).status_code == 201
    assert fakes.range_requests == []


async def test_the_suite_keeps_the_check_off_and_offline(harness: Harness) -> None:
    assert harness.settings.PASSWORD_BREACH_CHECK is False
    assert harness.settings.HIBP_API_URL.startswith("http://127.0.0.1:")
