"""Personal API keys: shown once, stored hashed, at most 20, acting as their user on
ordinary routes only, and dead at once when deleted, expired or their user deactivated."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlmodel import select

from app.models import ApiKey, AuditLog
from app.services.principals import PrincipalCache
from tests.conftest import Harness, HarnessFactory
from tests.support.flows import API, PASSWORD, bearer

KEYS = f"{API}/users/api-keys"
PROFILE = f"{API}/users/profile"


async def signed_in(harness: Harness) -> tuple[str, dict[str, str]]:
    email = await harness.user()
    tokens = await harness.login(email)
    return email, bearer(tokens["access_token"])


async def new_key(harness: Harness, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await harness.client.post(KEYS, json={"name": "script", **body}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_a_key_is_shown_once_stored_hashed_and_acts_as_its_user(harness: Harness) -> None:
    email, headers = await signed_in(harness)
    created = await new_key(harness, headers)
    key = created["key"]
    assert key.startswith("ak_") and len(key) >= 3 + 43
    assert created["prefix"] == key[:11]
    assert set(created) == {
        "id", "name", "prefix", "created_at", "expires_at", "last_used_at", "key",
    }  # fmt: skip
    assert created["expires_at"] is None and created["last_used_at"] is None

    listed = (await harness.client.get(KEYS, headers=headers)).json()
    assert [item["id"] for item in listed] == [created["id"]]
    assert "key" not in listed[0]
    async with harness.ctx.sessionmaker() as db:
        row = (await db.exec(select(ApiKey))).one()
    assert key not in (row.key_hash, row.prefix, row.name) and len(row.key_hash) == 64

    profile = await harness.client.get(PROFILE, headers=bearer(key))
    assert profile.status_code == 200 and profile.json()["email"] == email
    updated = await harness.client.put(PROFILE, json={"full_name": "Ada"}, headers=bearer(key))
    assert updated.status_code == 200 and updated.json()["full_name"] == "Ada"

    listed = (await harness.client.get(KEYS, headers=headers)).json()
    assert listed[0]["last_used_at"] is not None
    async with harness.ctx.sessionmaker() as db:
        events = (await db.exec(select(AuditLog.event))).all()
    assert "api_key_created" in events


async def test_keys_are_refused_on_credential_session_and_admin_routes(
    harness: Harness,
) -> None:
    _, headers = await signed_in(harness)
    key = bearer((await new_key(harness, headers))["key"])
    refused = [
        ("post", f"{API}/users/change-password", {"current_password": PASSWORD,
                                                  "new_password": "another long passphrase"}),
        ("get", f"{API}/users/sessions", None),
        ("get", f"{API}/users/passkeys", None),
        ("post", f"{API}/users/passkeys/register/options", None),
        ("get", KEYS, None),
        ("post", KEYS, {"name": "more"}),
        ("post", f"{API}/auth/logout", {}),
        ("post", f"{API}/auth/logout-all", None),
        ("get", f"{API}/admin/users", None),
    ]  # fmt: skip
    for method, path, body in refused:
        kwargs: dict[str, Any] = {"headers": key}
        if body is not None:
            kwargs["json"] = body
        response = await getattr(harness.client, method)(path, **kwargs)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["code"] == "forbidden"
    assert (await harness.client.get(PROFILE, headers=key)).status_code == 200  # still alive


async def test_an_admins_key_opens_no_admin_route(harness: Harness) -> None:
    _, admin = await harness.admin()
    key = bearer((await new_key(harness, bearer(admin["access_token"])))["key"])
    for path in ("/admin/users", "/admin/audit", "/admin/webhooks", "/health/detailed"):
        response = await harness.client.get(f"{API}{path}", headers=key)
        assert response.status_code == 403, path


async def test_unknown_and_malformed_keys_are_401(harness: Harness) -> None:
    for token in (b"ak_" + b"x" * 43, b"ak_", b"ak_\xc3\xa9\xff", b"ak_" + b"y" * 600):
        response = await harness.client.get(PROFILE, headers={"Authorization": b"Bearer " + token})
        assert response.status_code == 401, token
        assert response.json()["code"] == "not_authenticated"


async def test_bad_input_is_a_clear_4xx(harness: Harness) -> None:
    _, headers = await signed_in(harness)
    for body in (
        {"name": ""},
        {"name": "x" * 101},
        {"name": "ok", "expires_in_days": 0},
        {"name": "ok", "expires_in_days": 366},
        {"name": "ok", "expires_in_days": "soon"},
        {"name": "bad\u0000name"},
        {"name": "ok", "role": "admin"},
    ):
        response = await harness.client.post(KEYS, json=body, headers=headers)
        assert response.status_code == 422, body


async def test_a_key_dies_when_it_expires(harness: Harness) -> None:
    _, headers = await signed_in(harness)
    created = await new_key(harness, headers, expires_in_days=1)
    key = bearer(created["key"])
    assert created["expires_at"] is not None
    assert (await harness.client.get(PROFILE, headers=key)).status_code == 200
    harness.clock.advance(days=1, seconds=1)
    response = await harness.client.get(PROFILE, headers=key)
    assert response.status_code == 401  # at once, though this process cached the key
    tokens = await harness.login(await harness.user())
    assert (await harness.client.get(KEYS, headers=bearer(tokens["access_token"]))).json() == []


async def test_a_deleted_key_dies_at_once_and_others_keys_are_404(harness: Harness) -> None:
    _, headers = await signed_in(harness)
    created = await new_key(harness, headers)
    key = bearer(created["key"])
    assert (await harness.client.get(PROFILE, headers=key)).status_code == 200  # cached now

    _, stranger = await signed_in(harness)
    response = await harness.client.delete(f"{KEYS}/{created['id']}", headers=stranger)
    assert response.status_code == 404
    assert (
        await harness.client.delete(f"{KEYS}/{created['id']}", headers=headers)
    ).status_code == 204
    assert (await harness.client.get(PROFILE, headers=key)).status_code == 401
    assert (
        await harness.client.delete(f"{KEYS}/{created['id']}", headers=headers)
    ).status_code == 404
    async with harness.ctx.sessionmaker() as db:
        events = (await db.exec(select(AuditLog.event))).all()
    assert "api_key_revoked" in events


async def test_at_most_twenty_live_keys(harness: Harness) -> None:
    _, headers = await signed_in(harness)
    made = [await new_key(harness, headers, name=f"k{i}") for i in range(20)]
    response = await harness.client.post(KEYS, json={"name": "one too many"}, headers=headers)
    assert response.status_code == 409 and response.json()["code"] == "too_many_api_keys"
    await harness.client.delete(f"{KEYS}/{made[0]['id']}", headers=headers)
    await new_key(harness, headers, name="room again")


async def test_the_last_free_slot_goes_to_one_of_several_racing_creates(
    harness: Harness,
) -> None:
    _, headers = await signed_in(harness)
    for i in range(19):
        await new_key(harness, headers, name=f"k{i}")
    racing = await asyncio.gather(
        *(harness.client.post(KEYS, json={"name": f"racer {i}"}, headers=headers) for i in range(4))
    )
    assert sorted(answer.status_code for answer in racing) == [201, 409, 409, 409]
    listed = await harness.client.get(KEYS, headers=headers)
    assert len(listed.json()) == 20


async def test_deactivation_kills_keys_at_once(harness: Harness) -> None:
    email, headers = await signed_in(harness)
    key = bearer((await new_key(harness, headers))["key"])
    assert (await harness.client.get(PROFILE, headers=key)).status_code == 200
    _, admin = await harness.admin()
    users = await harness.client.get(
        f"{API}/admin/users", params={"email": email}, headers=bearer(admin["access_token"])
    )
    user_id = users.json()["items"][0]["id"]
    response = await harness.client.patch(
        f"{API}/admin/users/{user_id}",
        json={"is_active": False},
        headers=bearer(admin["access_token"]),
    )
    assert response.status_code == 200
    assert (await harness.client.get(PROFILE, headers=key)).status_code == 401


async def test_a_key_deleted_on_one_worker_dies_on_another(make_harness: HarnessFactory) -> None:
    """Two workers on one database: the other stops accepting the key once its 1 s local
    cache has passed (the bound sessions have too), reading the database again."""
    one = await make_harness()
    two = await make_harness()
    now = [time.monotonic()]
    two.ctx.principals = PrincipalCache(two.ctx.cache, two.clock, timer=lambda: now[0])
    _, headers = await signed_in(one)
    created = await new_key(one, headers)
    key = bearer(created["key"])
    assert (await two.client.get(PROFILE, headers=key)).status_code == 200
    assert (await one.client.delete(f"{KEYS}/{created['id']}", headers=headers)).status_code == 204
    now[0] += 1.01
    assert (await two.client.get(PROFILE, headers=key)).status_code == 401
