from __future__ import annotations

import uuid

from sqlmodel import select

from app.models import AuditLog
from tests.conftest import Harness
from tests.support.flows import API, PASSWORD, bearer, login


async def test_profile_get_and_update(harness: Harness) -> None:
    pair = await harness.login(await harness.user())
    headers = bearer(pair["access_token"])
    profile = await harness.client.get(f"{API}/users/profile", headers=headers)
    assert profile.status_code == 200 and profile.json()["full_name"] is None
    assert profile.headers["cache-control"] == "no-store"
    updated = await harness.client.put(
        f"{API}/users/profile", headers=headers, json={"full_name": "Grace Hopper"}
    )
    assert updated.status_code == 200 and updated.json()["full_name"] == "Grace Hopper"
    again = await harness.client.get(f"{API}/users/profile", headers=headers)
    assert again.json()["full_name"] == "Grace Hopper"
    async with harness.ctx.sessionmaker() as db:
        rows = (await db.exec(select(AuditLog).where(AuditLog.event == "user_updated"))).all()
    assert [r.details for r in rows] == [{"fields": ["full_name"]}]


async def test_profile_body_is_what_fastapi_serializes(harness: Harness) -> None:
    """GET sends a body rendered once per cached snapshot; it must be byte for byte
    what FastAPI's own serialization of UserOut sends (PUT's response)."""
    headers = bearer((await harness.login(await harness.user()))["access_token"])
    await harness.client.get(f"{API}/users/profile", headers=headers)  # cache the old state
    updated = await harness.client.put(
        f"{API}/users/profile", headers=headers, json={"full_name": 'Zoë "Z" 中\\'}
    )
    profile = await harness.client.get(f"{API}/users/profile", headers=headers)
    assert profile.status_code == updated.status_code == 200
    assert profile.content == updated.content
    assert profile.headers["content-type"] == updated.headers["content-type"]
    assert profile.json()["full_name"] == 'Zoë "Z" 中\\'


async def test_profile_cannot_change_role_email_or_flags(harness: Harness) -> None:
    email = await harness.user()
    headers = bearer((await harness.login(email))["access_token"])
    for field, value in [
        ("role", "admin"),
        ("email", "other@example.com"),
        ("is_active", False),
        ("is_verified", False),
        ("id", str(uuid.uuid4())),
    ]:
        response = await harness.client.put(
            f"{API}/users/profile", headers=headers, json={field: value}
        )
        assert response.status_code == 422, field
    profile = (await harness.client.get(f"{API}/users/profile", headers=headers)).json()
    assert profile["role"] == "user" and profile["email"] == email


async def test_change_password(harness: Harness) -> None:
    email = await harness.user()
    current = await harness.login(email)
    other = await harness.login(email)
    response = await harness.client.post(
        f"{API}/users/change-password",
        headers=bearer(current["access_token"]),
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
    )
    assert response.status_code == 204
    # This session lives on; the others are signed out.
    assert (
        await harness.client.get(f"{API}/users/profile", headers=bearer(current["access_token"]))
    ).status_code == 200
    assert (
        await harness.client.get(f"{API}/users/profile", headers=bearer(other["access_token"]))
    ).status_code == 401
    assert (await login(harness.client, email)).status_code == 401
    assert (await login(harness.client, email, "a brand new passphrase")).status_code == 200


async def test_change_password_errors(harness: Harness) -> None:
    headers = bearer((await harness.login(await harness.user()))["access_token"])
    wrong = await harness.client.post(
        f"{API}/users/change-password",
        headers=headers,
        json={"current_password": "not it at all", "new_password": "a brand new passphrase"},
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "wrong_password"
    weak = await harness.client.post(
        f"{API}/users/change-password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": "password"},
    )
    assert weak.status_code == 422 and weak.json()["code"] == "weak_password"


async def test_sessions_list_and_revoke(harness: Harness) -> None:
    email = await harness.user()
    first = await harness.login(email)
    second_client = harness.new_client(peer=("203.0.113.9", 4000), headers={"User-Agent": "Phone"})
    second = (await login(second_client, email)).json()
    headers = bearer(first["access_token"])
    listed = (await harness.client.get(f"{API}/users/sessions", headers=headers)).json()
    assert len(listed) == 2
    assert set(listed[0]) == {"id", "created_at", "last_used_at", "ip", "user_agent", "current"}
    current = [s for s in listed if s["current"]]
    phone = [s for s in listed if not s["current"]]
    assert len(current) == 1 and phone[0]["ip"] == "203.0.113.9"
    assert phone[0]["user_agent"] == "Phone"
    response = await harness.client.delete(
        f"{API}/users/sessions/{phone[0]['id']}", headers=headers
    )
    assert response.status_code == 204
    assert (
        await harness.client.get(f"{API}/users/profile", headers=bearer(second["access_token"]))
    ).status_code == 401
    listed = (await harness.client.get(f"{API}/users/sessions", headers=headers)).json()
    assert [s["current"] for s in listed] == [True]
    again = await harness.client.delete(f"{API}/users/sessions/{phone[0]['id']}", headers=headers)
    assert again.status_code == 404


async def test_someone_elses_session_is_not_found(harness: Harness) -> None:
    mine = await harness.login(await harness.user())
    theirs = await harness.login(await harness.user())
    their_sessions = (
        await harness.client.get(f"{API}/users/sessions", headers=bearer(theirs["access_token"]))
    ).json()
    response = await harness.client.delete(
        f"{API}/users/sessions/{their_sessions[0]['id']}", headers=bearer(mine["access_token"])
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Session not found", "code": "not_found"}
    assert (
        await harness.client.get(f"{API}/users/profile", headers=bearer(theirs["access_token"]))
    ).status_code == 200
    bad = await harness.client.delete(
        f"{API}/users/sessions/not-a-uuid", headers=bearer(mine["access_token"])
    )
    assert bad.status_code == 422


async def test_user_routes_need_a_token(harness: Harness) -> None:
    for method, path in [
        ("GET", "/users/profile"),
        ("PUT", "/users/profile"),
        ("POST", "/users/change-password"),
        ("GET", "/users/sessions"),
        ("DELETE", f"/users/sessions/{uuid.uuid4()}"),
    ]:
        response = await harness.client.request(method, f"{API}{path}")
        assert response.status_code == 401, path
        assert response.json()["code"] == "not_authenticated"
