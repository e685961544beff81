from __future__ import annotations

import asyncio
import json

import pytest
from sqlmodel import select

from app.models import AuditLog, User
from tests.conftest import Harness
from tests.support.flows import API, JSON, PASSWORD, new_email, register


async def test_register_returns_user_out_and_mails_a_link(harness: Harness) -> None:
    response = await register(harness.client, " New.User@Example.COM ", full_name="Ada")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id", "email", "full_name", "role", "is_active", "is_verified", "created_at",
        "oauth_providers", "locale", "mfa_enabled",
    }  # fmt: skip
    assert body["email"] == "new.user@example.com"
    assert body["role"] == "user" and body["is_active"] and not body["is_verified"]
    assert body["oauth_providers"] == []
    assert body["mfa_enabled"] is False
    assert "password" not in response.text and "$2b$" not in response.text
    await harness.settle()
    link = harness.mailbox.link("new.user@example.com", "/verify-email")
    assert link.startswith("http://frontend.test/verify-email?token=")


async def test_duplicate_email_is_409_case_insensitively(harness: Harness) -> None:
    email = new_email()
    assert (await register(harness.client, email)).status_code == 201
    response = await register(harness.client, email.upper())
    assert response.status_code == 409
    assert response.json() == {
        "detail": "An account with this email already exists",
        "code": "email_taken",
    }


async def test_concurrent_registrations_of_one_email(harness: Harness) -> None:
    email = new_email()
    responses = await asyncio.gather(*(register(harness.client, email) for _ in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19, statuses
    assert all(r.json()["code"] == "email_taken" for r in responses if r.status_code == 409)
    async with harness.ctx.sessionmaker() as db:
        users = (await db.exec(select(User).where(User.email == email))).all()
    assert len(users) == 1


@pytest.mark.parametrize(
    "password",
    ["short", "password123", "x" * 129, "nul\u0000password"],
)
async def test_weak_passwords_are_422_weak_password(harness: Harness, password: str) -> None:
    response = await register(harness.client, password=password)
    assert response.status_code == 422
    assert response.json()["code"] == "weak_password"


async def test_password_equal_to_email_is_weak(harness: Harness) -> None:
    email = new_email()
    response = await register(harness.client, email, password=email)
    assert response.status_code == 422 and response.json()["code"] == "weak_password"


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "a@b", "password": PASSWORD},
        {"email": 12, "password": PASSWORD},
        {"email": ["x@example.com"], "password": PASSWORD},
        {"email": "x@example.com"},
        {"email": "x@example.com", "password": PASSWORD, "role": "admin"},
        {"email": "x@example.com", "password": PASSWORD, "is_verified": True},
        {"email": "x\u0000@example.com", "password": PASSWORD},
        {"email": "x@example.com", "password": PASSWORD, "full_name": "a\u0000b"},
        {"email": "x@example.com", "password": PASSWORD, "full_name": "x" * 201},
        {"email": "\ud800@example.com", "password": PASSWORD},
        {"email": "x" * 400 + "@example.com", "password": PASSWORD},
    ],
)
async def test_invalid_bodies_are_422(harness: Harness, body: dict[str, object]) -> None:
    # json.dumps escapes lone surrogates as \ud800, as a hostile client would send them.
    response = await harness.client.post(
        f"{API}/auth/register", content=json.dumps(body), headers=JSON
    )
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], list)


async def test_register_with_odd_unicode_works(harness: Harness) -> None:
    response = await register(
        harness.client, "ünïcode@exämple.com", password="пароль 🔐 ünïcode", full_name="Zoë 🦊"
    )
    assert response.status_code == 201, response.text
    assert response.json()["full_name"] == "Zoë 🦊"


async def test_register_is_audited(harness: Harness) -> None:
    response = await register(harness.client, headers={"User-Agent": "pytest-agent"})
    user_id = response.json()["id"]
    async with harness.ctx.sessionmaker() as db:
        rows = (await db.exec(select(AuditLog).where(AuditLog.event == "register"))).all()
    assert [str(r.user_id) for r in rows] == [user_id]
    assert rows[0].ip == "127.0.0.1"


async def test_registration_holds_no_connection_while_hashing(harness: Harness) -> None:
    """bcrypt runs before the first query: a burst of sign-ups cannot hold the pool
    while it waits for CPU (as login, which releases its read before bcrypt)."""
    pool = harness.ctx.engine.pool
    await harness.app.state.webhook_dispatcher.stop()  # its polls would use the pool too
    await harness.settle()
    held: list[int] = []
    original = harness.ctx.hasher.hash_sync

    def observing(password: str) -> str:
        held.append(pool.checkedout())
        return original(password)

    harness.ctx.hasher.hash_sync = observing  # type: ignore[method-assign]
    email = new_email()
    assert (await register(harness.client, email)).status_code == 201
    await harness.settle()  # the verification mail, sent in the background, is out
    assert (await register(harness.client, email)).status_code == 409  # taken: same work
    assert held == [0, 0]
