from __future__ import annotations

import asyncio
import statistics
import time
from datetime import datetime

import pytest
from sqlmodel import select

from app.models import AuditLog, User
from tests.conftest import Harness, HarnessFactory
from tests.support.flows import API, PASSWORD, login, new_email, register


async def _set_user(harness: Harness, email: str, **values: object) -> None:
    async with harness.ctx.sessionmaker() as db:
        user = (await db.exec(select(User).where(User.email == email))).one()
        for key, value in values.items():
            setattr(user, key, value)
        db.add(user)
        await db.commit()


async def _events(harness: Harness, event: str) -> list[AuditLog]:
    async with harness.ctx.sessionmaker() as db:
        return list((await db.exec(select(AuditLog).where(AuditLog.event == event))).all())


async def test_login_returns_a_token_pair(harness: Harness) -> None:
    email = await harness.user()
    response = await login(harness.client, f"  {email.upper()} ")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 1800
    assert response.headers["cache-control"] == "no-store"
    assert len(await _events(harness, "login_success")) == 1


async def test_token_endpoint_takes_the_oauth2_form(harness: Harness) -> None:
    email = await harness.user()
    response = await harness.client.post(
        f"{API}/auth/token", data={"username": email, "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    bad = await harness.client.post(
        f"{API}/auth/token", data={"username": email, "password": "wrong password!"}
    )
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_credentials"
    junk = await harness.client.post(
        f"{API}/auth/token", data={"username": "not an email", "password": "x"}
    )
    assert junk.status_code == 422


async def test_wrong_password_and_unknown_email_look_the_same(harness: Harness) -> None:
    email = await harness.user()
    wrong = await login(harness.client, email, "not the password")
    unknown = await login(harness.client, new_email(), "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "detail": "Incorrect email or password",
            "code": "invalid_credentials",
        }
    )
    ignore = {"x-request-id", "date"}
    assert {k for k in wrong.headers if k not in ignore} == {
        k for k in unknown.headers if k not in ignore
    }
    assert wrong.headers["content-length"] == unknown.headers["content-length"]


async def test_unknown_emails_cost_a_bcrypt_check_too(harness: Harness) -> None:
    calls: list[str | None] = []
    original = harness.ctx.hasher.verify_sync

    def counting(password: str, stored: str | None) -> bool:
        calls.append(stored)
        return original(password, stored)

    harness.ctx.hasher.verify_sync = counting  # type: ignore[method-assign]
    await login(harness.client, new_email(), "not the password")
    assert calls == [None]


async def test_login_time_is_similar_for_known_and_unknown(
    make_harness: HarnessFactory,
) -> None:
    # Rounds high enough that bcrypt, not the database, dominates.
    harness = await make_harness(BCRYPT_ROUNDS=10)
    email = await harness.user()

    async def timed(address: str) -> float:
        start = time.perf_counter()
        response = await login(harness.client, address, "not the password")
        assert response.status_code == 401
        return time.perf_counter() - start

    known, unknown = [], []
    for _ in range(4):  # below the lockout threshold
        known.append(await timed(email))
        unknown.append(await timed(new_email()))
    ratio = statistics.median(known) / statistics.median(unknown)
    assert 0.5 < ratio < 2.0, (known, unknown)


async def test_unverified_user_with_right_password_is_403(harness: Harness) -> None:
    email = new_email()
    await register(harness.client, email)
    response = await login(harness.client, email)
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Verify your email address before logging in",
        "code": "email_not_verified",
    }
    wrong = await login(harness.client, email, "not the password")
    assert wrong.status_code == 401  # a wrong password reveals nothing more


async def test_disabled_user_is_403_and_its_tokens_die(harness: Harness) -> None:
    email = await harness.user()
    pair = await harness.login(email)
    await _set_user(harness, email, is_active=False)
    response = await login(harness.client, email)
    assert response.status_code == 403 and response.json()["code"] == "account_disabled"
    profile = await harness.client.get(
        f"{API}/users/profile", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert profile.status_code == 401 and profile.json()["code"] == "not_authenticated"
    refresh = await harness.client.post(
        f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refresh.status_code == 401 and refresh.json()["code"] == "invalid_refresh_token"


async def test_failed_logins_are_audited_with_a_reason(harness: Harness) -> None:
    email = await harness.user()
    await login(harness.client, email, "not the password")
    await login(harness.client, new_email(), "not the password")
    rows = await _events(harness, "login_failed")
    assert sorted(r.details["reason"] for r in rows) == ["bad_credentials", "bad_credentials"]
    assert {r.details["method"] for r in rows} == {"password"}  # as every way in records it
    assert sorted(r.user_id is None for r in rows) == [False, True]
    for row in rows:
        assert "not the password" not in str(row.details)


async def test_login_upgrades_the_hash_when_rounds_change(make_harness: HarnessFactory) -> None:
    first = await make_harness(BCRYPT_ROUNDS=4)
    email = await first.user()
    second = await make_harness(BCRYPT_ROUNDS=5)
    assert (await login(second.client, email)).status_code == 200
    async with second.ctx.sessionmaker() as db:
        user = (await db.exec(select(User).where(User.email == email))).one()
    assert user.hashed_password and "$2b$05$" in user.hashed_password
    assert (await login(second.client, email)).status_code == 200


class TestLockout:
    async def test_threshold_failures_lock_with_locked_until(self, harness: Harness) -> None:
        email = await harness.user()
        statuses = [
            (await login(harness.client, email, "bad password")).status_code for _ in range(5)
        ]
        assert statuses == [401, 401, 401, 401, 423]
        response = await login(harness.client, email)  # the right password changes nothing
        assert response.status_code == 423
        body = response.json()
        assert body["code"] == "account_locked" and set(body) == {"detail", "code", "locked_until"}
        until = datetime.fromisoformat(body["locked_until"].replace("Z", "+00:00"))
        expected = harness.clock.now() + harness.settings.lockout_duration
        assert abs((until - expected).total_seconds()) < 2
        assert len(await _events(harness, "account_locked")) == 1

    async def test_lock_ends_after_the_duration(self, harness: Harness) -> None:
        email = await harness.user()
        for _ in range(5):
            await login(harness.client, email, "bad password")
        harness.clock.advance(minutes=29)
        assert (await login(harness.client, email)).status_code == 423
        harness.clock.advance(minutes=1, seconds=1)
        assert (await login(harness.client, email)).status_code == 200

    async def test_unknown_emails_lock_too(self, harness: Harness) -> None:
        email = new_email()
        statuses = [
            (await login(harness.client, email, "bad password")).status_code for _ in range(6)
        ]
        assert statuses == [401, 401, 401, 401, 423, 423]

    async def test_success_resets_the_counter(self, harness: Harness) -> None:
        email = await harness.user()
        for _ in range(4):
            await login(harness.client, email, "bad password")
        assert (await login(harness.client, email)).status_code == 200
        for _ in range(4):
            assert (await login(harness.client, email, "bad password")).status_code == 401

    async def test_holds_under_concurrent_attempts(self, harness: Harness) -> None:
        email = await harness.user()
        responses = await asyncio.gather(
            *(login(harness.client, email, "bad password") for _ in range(20))
        )
        statuses = [r.status_code for r in responses]
        assert statuses.count(401) == 4, statuses
        assert statuses.count(423) == 16

    async def test_counted_per_email_not_per_address(self, harness: Harness) -> None:
        email = await harness.user()
        for peer in range(5):
            client = harness.new_client(peer=(f"198.51.100.{peer}", 1000))
            await login(client, email, "bad password")
        assert (await login(harness.client, email)).status_code == 423

    @pytest.mark.parametrize(("minutes", "debug", "seconds"), [(0.1, False, 6), (30, True, 60)])
    async def test_duration_setting(
        self, make_harness: HarnessFactory, minutes: float, debug: bool, seconds: int
    ) -> None:
        harness = await make_harness(ACCOUNT_LOCKOUT_DURATION_MINUTES=minutes, DEBUG=debug)
        email = await harness.user()
        for _ in range(5):
            await login(harness.client, email, "bad password")
        harness.clock.advance(seconds=seconds - 1)
        assert (await login(harness.client, email)).status_code == 423
        harness.clock.advance(seconds=2)
        assert (await login(harness.client, email)).status_code == 200


async def test_a_lock_that_ended_is_replaced_by_a_new_one(harness: Harness) -> None:
    email = await harness.user()
    for _ in range(5):
        await login(harness.client, email, "bad password")
    # The clock passes the lock's end while its store entry may still exist.
    harness.clock.advance(minutes=31)
    statuses = [(await login(harness.client, email, "bad password")).status_code for _ in range(6)]
    assert statuses == [401, 401, 401, 401, 423, 423]
    assert len(await _events(harness, "account_locked")) == 2
