from __future__ import annotations

import asyncio
import statistics
import time

from sqlmodel import select

from app.email.base import EmailError, TransientEmailError
from app.models import AuditLog
from tests.conftest import Harness
from tests.support.flows import API, PASSWORD, bearer, login, new_email, register

NEW_PASSWORD = "a fresh passphrase"


async def _request(harness: Harness, email: str) -> tuple[int, dict[str, object]]:
    response = await harness.client.post(f"{API}/auth/password-reset", json={"email": email})
    return response.status_code, response.json()


async def _complete(
    harness: Harness, token: str, password: str = NEW_PASSWORD
) -> tuple[int, dict[str, object]]:
    response = await harness.client.post(
        f"{API}/auth/password-reset/complete", json={"token": token, "new_password": password}
    )
    return response.status_code, response.json()


async def _events(harness: Harness, event: str) -> list[AuditLog]:
    async with harness.ctx.sessionmaker() as db:
        return list((await db.exec(select(AuditLog).where(AuditLog.event == event))).all())


async def test_reset_end_to_end(harness: Harness) -> None:
    email = await harness.user()
    sessions = [await harness.login(email) for _ in range(2)]
    status, body = await _request(harness, email.upper())
    assert status == 202
    await harness.settle()
    link = harness.mailbox.link(email, "/reset-password")
    assert link.startswith("http://frontend.test/reset-password?token=")
    token = harness.mailbox.token(email, "/reset-password")
    assert await _complete(harness, token) == (200, {"detail": "Password updated"})
    for pair in sessions:  # every session is signed out
        profile = await harness.client.get(
            f"{API}/users/profile", headers=bearer(pair["access_token"])
        )
        assert profile.status_code == 401
    assert (await login(harness.client, email)).status_code == 401
    assert (await login(harness.client, email, NEW_PASSWORD)).status_code == 200
    assert len(await _events(harness, "password_reset_requested")) == 1
    [done] = await _events(harness, "password_reset_completed")
    assert done.details == {"sessions_revoked": 2}


async def test_same_answer_for_known_and_unknown_addresses(harness: Harness) -> None:
    known = await harness.user()
    before = len(harness.mailbox.messages)
    assert await _request(harness, known) == await _request(harness, new_email())
    await harness.settle()
    assert [m.to for m in harness.mailbox.messages[before:]] == [known]
    rows = await _events(harness, "password_reset_requested")
    assert sorted(r.user_id is None for r in rows) == [False, True]


async def test_request_time_is_the_same_for_known_and_unknown(harness: Harness) -> None:
    """The request path does identical work for both; the mail job runs after the response."""
    known = await harness.user()

    async def timed(email: str) -> float:
        start = time.perf_counter()
        status, _ = await _request(harness, email)
        elapsed = time.perf_counter() - start
        assert status == 202
        await harness.settle()
        return elapsed

    known_times, unknown_times = [], []
    for _ in range(15):
        known_times.append(await timed(known))
        unknown_times.append(await timed(new_email()))
    known_ms = statistics.median(known_times) * 1000
    unknown_ms = statistics.median(unknown_times) * 1000
    print(f"reset request median: known {known_ms:.2f} ms, unknown {unknown_ms:.2f} ms")
    assert abs(known_ms - unknown_ms) < max(2.0, 0.5 * unknown_ms), (known_ms, unknown_ms)


async def test_token_is_single_use(harness: Harness) -> None:
    email = await harness.user()
    await _request(harness, email)
    await harness.settle()
    token = harness.mailbox.token(email, "/reset-password")
    assert (await _complete(harness, token))[0] == 200
    status, body = await _complete(harness, token, "yet another passphrase")
    assert status == 400 and body["code"] == "invalid_token"


async def test_token_expires_after_an_hour(harness: Harness) -> None:
    email = await harness.user()
    await _request(harness, email)
    await harness.settle()
    token = harness.mailbox.token(email, "/reset-password")
    harness.clock.advance(minutes=60, seconds=1)
    assert (await _complete(harness, token))[0] == 400


async def test_a_newer_token_voids_the_older(harness: Harness) -> None:
    email = await harness.user()
    await _request(harness, email)
    await harness.settle()
    first = harness.mailbox.token(email, "/reset-password")
    await _request(harness, email)
    await harness.settle()
    second = harness.mailbox.token(email, "/reset-password")
    assert first != second
    assert (await _complete(harness, first))[0] == 400
    assert (await _complete(harness, second))[0] == 200


async def test_wrong_token_and_weak_password_spend_nothing(harness: Harness) -> None:
    email = await harness.user()
    await _request(harness, email)
    await harness.settle()
    token = harness.mailbox.token(email, "/reset-password")
    assert (await _complete(harness, "nope"))[0] == 400
    assert (await _complete(harness, token[:-1]))[0] == 400
    status, body = await _complete(harness, token, "password")
    assert status == 422 and body["code"] == "weak_password"
    verify = await harness.client.post(f"{API}/auth/verify-email", json={"token": token})
    assert verify.status_code == 400  # wrong kind
    assert (await _complete(harness, token))[0] == 200


async def test_concurrent_completions_use_the_token_once(harness: Harness) -> None:
    email = await harness.user()
    await _request(harness, email)
    await harness.settle()
    token = harness.mailbox.token(email, "/reset-password")
    results = await asyncio.gather(*(_complete(harness, token) for _ in range(5)))
    assert sorted(status for status, _ in results) == [200, 400, 400, 400, 400]


async def test_reset_lifts_a_lockout_and_verifies_the_address(harness: Harness) -> None:
    email = new_email()
    await register(harness.client, email)
    for _ in range(5):
        await login(harness.client, email, "wrong password")
    assert (await login(harness.client, email)).status_code == 423
    await _request(harness, email)
    await harness.settle()
    token = harness.mailbox.token(email, "/reset-password")
    assert (await _complete(harness, token))[0] == 200
    # Unlocked, and the mailbox was proven, so no email_not_verified either.
    assert (await login(harness.client, email, NEW_PASSWORD)).status_code == 200
    [unlocked] = await _events(harness, "account_unlocked")
    assert unlocked.details == {"via": "password_reset"}


async def test_mail_failures_do_not_fail_the_request_and_can_be_retried(
    harness: Harness,
) -> None:
    email = await harness.user()
    harness.mailbox.fail_with = [TransientEmailError("down"), TransientEmailError("down")]
    assert (await _request(harness, email))[0] == 202
    await harness.settle()
    assert harness.mailbox.attempts >= 3  # two transient failures, then delivered
    harness.mailbox.link(email, "/reset-password")
    harness.mailbox.fail_with = [EmailError("rejected")]
    attempts = harness.mailbox.attempts
    assert (await _request(harness, email))[0] == 202
    await harness.settle()
    assert harness.mailbox.attempts == attempts + 1  # a permanent error is not retried
    [failed] = await _events(harness, "email_send_failed")
    assert failed.details["kind"] == "password_reset"


async def test_oauth_only_user_can_set_a_password_through_reset(harness: Harness) -> None:
    from app.models import User

    email = await harness.user()
    async with harness.ctx.sessionmaker() as db:
        user = (await db.exec(select(User).where(User.email == email))).one()
        user.hashed_password = None
        db.add(user)
        await db.commit()
    pair = await harness.client.post(
        f"{API}/auth/login", json={"email": email, "password": PASSWORD}
    )
    assert pair.status_code == 401
    tokens = await _request(harness, email)
    assert tokens[0] == 202
    await harness.settle()
    assert (await _complete(harness, harness.mailbox.token(email, "/reset-password")))[0] == 200
    assert (await login(harness.client, email, NEW_PASSWORD)).status_code == 200


async def test_change_password_tells_oauth_only_users_to_reset(harness: Harness) -> None:
    from app.models import User

    email = await harness.user()
    pair = await harness.login(email)
    async with harness.ctx.sessionmaker() as db:
        user = (await db.exec(select(User).where(User.email == email))).one()
        user.hashed_password = None
        db.add(user)
        await db.commit()
    response = await harness.client.post(
        f"{API}/users/change-password",
        headers=bearer(pair["access_token"]),
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "no_password"
    assert "reset" in response.json()["detail"]
