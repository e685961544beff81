from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from app.models import Role, User
from tests.conftest import Harness
from tests.support.flows import API, bearer, login


async def _set_role(harness: Harness, email: str, role: Role) -> None:
    async with harness.ctx.sessionmaker() as db:
        user = (await db.exec(select(User).where(User.email == email))).one()
        user.role = role
        db.add(user)
        await db.commit()


async def _user_id(harness: Harness, email: str) -> str:
    async with harness.ctx.sessionmaker() as db:
        return str((await db.exec(select(User.id).where(User.email == email))).one())


@pytest.mark.parametrize("role", [Role.USER, Role.GUEST])
async def test_admin_routes_refuse_other_roles(harness: Harness, role: Role) -> None:
    email = await harness.user()
    await _set_role(harness, email, role)
    headers = bearer((await harness.login(email))["access_token"])
    target = await _user_id(harness, email)
    for method, path in [
        ("GET", "/admin/users"),
        ("PATCH", f"/admin/users/{target}"),
        ("POST", f"/admin/users/{target}/unlock"),
        ("GET", "/admin/audit"),
    ]:
        response = await harness.client.request(
            method, f"{API}{path}", headers=headers, json={} if method == "PATCH" else None
        )
        assert response.status_code == 403, path
        assert response.json() == {
            "detail": "You do not have permission to do this",
            "code": "forbidden",
        }
    anonymous = await harness.client.get(f"{API}/admin/users")
    assert anonymous.status_code == 401
    audit = await harness.admin()
    rows = (
        await harness.client.get(
            f"{API}/admin/audit",
            params={"event": "access_denied"},
            headers=bearer(audit[1]["access_token"]),
        )
    ).json()
    assert rows["total"] == 4 and {r["user_id"] for r in rows["items"]} == {target}


async def test_list_users_with_filters_and_pages(harness: Harness) -> None:
    _, tokens = await harness.admin()
    headers = bearer(tokens["access_token"])
    emails = [await harness.user(f"list-{i}-{uuid.uuid4().hex[:6]}@example.com") for i in range(5)]
    await _set_role(harness, emails[0], Role.GUEST)
    page = (
        await harness.client.get(f"{API}/admin/users", params={"size": 2}, headers=headers)
    ).json()
    assert page["total"] == 6 and page["page"] == 1 and page["size"] == 2
    assert len(page["items"]) == 2
    third = (
        await harness.client.get(
            f"{API}/admin/users", params={"size": 2, "page": 3}, headers=headers
        )
    ).json()
    assert len(third["items"]) == 2
    seen = {u["email"] for u in page["items"]} | {u["email"] for u in third["items"]}
    assert len(seen) == 4
    found = (
        await harness.client.get(f"{API}/admin/users", params={"email": "LIST-"}, headers=headers)
    ).json()
    assert found["total"] == 5
    guests = (
        await harness.client.get(f"{API}/admin/users", params={"role": "guest"}, headers=headers)
    ).json()
    assert [u["email"] for u in guests["items"]] == [emails[0]]
    wildcard = (
        await harness.client.get(f"{API}/admin/users", params={"email": "%"}, headers=headers)
    ).json()
    assert wildcard["total"] == 0  # LIKE wildcards are literal
    for bad in ({"size": 0}, {"size": 101}, {"page": 0}, {"role": "root"}):
        response = await harness.client.get(f"{API}/admin/users", params=bad, headers=headers)
        assert response.status_code == 422, bad


async def test_change_role_takes_effect_at_once(harness: Harness) -> None:
    _, tokens = await harness.admin()
    headers = bearer(tokens["access_token"])
    email = await harness.user()
    user_tokens = await harness.login(email)
    user_id = await _user_id(harness, email)
    response = await harness.client.patch(
        f"{API}/admin/users/{user_id}", headers=headers, json={"role": "admin"}
    )
    assert response.status_code == 200 and response.json()["role"] == "admin"
    # The same access token now passes the admin check.
    promoted = await harness.client.get(
        f"{API}/admin/users", headers=bearer(user_tokens["access_token"])
    )
    assert promoted.status_code == 200
    audit = (
        await harness.client.get(
            f"{API}/admin/audit", params={"event": "role_changed"}, headers=headers
        )
    ).json()
    [row] = audit["items"]
    assert row["details"] == {"from": "user", "to": "admin"}
    assert row["user_id"] == user_id and row["actor_id"] is not None


async def test_deactivation_signs_the_user_out(harness: Harness) -> None:
    _, tokens = await harness.admin()
    email = await harness.user()
    user_tokens = await harness.login(email)
    user_id = await _user_id(harness, email)
    response = await harness.client.patch(
        f"{API}/admin/users/{user_id}",
        headers=bearer(tokens["access_token"]),
        json={"is_active": False},
    )
    assert response.status_code == 200 and response.json()["is_active"] is False
    profile = await harness.client.get(
        f"{API}/users/profile", headers=bearer(user_tokens["access_token"])
    )
    assert profile.status_code == 401
    assert (await login(harness.client, email)).json()["code"] == "account_disabled"


async def test_last_admin_cannot_be_demoted_or_deactivated(harness: Harness) -> None:
    admin_email, tokens = await harness.admin()
    headers = bearer(tokens["access_token"])
    admin_id = await _user_id(harness, admin_email)
    for change in ({"role": "user"}, {"is_active": False}, {"role": "guest", "is_active": False}):
        response = await harness.client.patch(
            f"{API}/admin/users/{admin_id}", headers=headers, json=change
        )
        assert response.status_code == 409, change
        assert response.json()["code"] == "last_admin"
    profile = await harness.client.get(f"{API}/users/profile", headers=headers)
    assert profile.json()["role"] == "admin"


async def test_two_admins_demoting_each_other_at_once_leave_one(harness: Harness) -> None:
    first_email, first = await harness.admin()
    second_email, second = await harness.admin()
    first_id, second_id = (
        await _user_id(harness, first_email),
        await _user_id(harness, second_email),
    )
    results = await asyncio.gather(
        harness.client.patch(
            f"{API}/admin/users/{second_id}",
            headers=bearer(first["access_token"]),
            json={"role": "user"},
        ),
        harness.client.patch(
            f"{API}/admin/users/{first_id}",
            headers=bearer(second["access_token"]),
            json={"role": "user"},
        ),
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses in ([200, 403], [200, 409]), statuses
    async with harness.ctx.sessionmaker() as db:
        admins = (await db.exec(select(User).where(User.role == Role.ADMIN))).all()
    assert len(admins) == 1


async def test_patch_errors(harness: Harness) -> None:
    _, tokens = await harness.admin()
    headers = bearer(tokens["access_token"])
    missing = await harness.client.patch(
        f"{API}/admin/users/{uuid.uuid4()}", headers=headers, json={"role": "user"}
    )
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    email = await harness.user()
    user_id = await _user_id(harness, email)
    for body in ({"role": "root"}, {"email": "x@example.com"}, {"is_active": "maybe"}):
        response = await harness.client.patch(
            f"{API}/admin/users/{user_id}", headers=headers, json=body
        )
        assert response.status_code == 422, body


async def test_unlock_lifts_a_lockout(harness: Harness) -> None:
    _, tokens = await harness.admin()
    headers = bearer(tokens["access_token"])
    email = await harness.user()
    for _ in range(5):
        await login(harness.client, email, "wrong password")
    assert (await login(harness.client, email)).status_code == 423
    user_id = await _user_id(harness, email)
    response = await harness.client.post(f"{API}/admin/users/{user_id}/unlock", headers=headers)
    assert response.status_code == 200 and response.json() == {"detail": "Account unlocked"}
    assert (await login(harness.client, email)).status_code == 200
    again = await harness.client.post(f"{API}/admin/users/{user_id}/unlock", headers=headers)
    assert again.json() == {"detail": "Account was not locked"}
    rows = (
        await harness.client.get(
            f"{API}/admin/audit", params={"event": "account_unlocked"}, headers=headers
        )
    ).json()
    assert rows["total"] == 2


async def test_audit_filters(harness: Harness) -> None:
    _, tokens = await harness.admin()
    headers = bearer(tokens["access_token"])
    email = await harness.user()
    user_id = await _user_id(harness, email)
    await login(harness.client, email, "wrong password")
    by_user = (
        await harness.client.get(f"{API}/admin/audit", params={"user_id": user_id}, headers=headers)
    ).json()
    assert {r["event"] for r in by_user["items"]} == {"register", "email_verified", "login_failed"}
    assert set(by_user["items"][0]) == {
        "id", "event", "user_id", "actor_id", "ip", "user_agent", "details", "created_at",
    }  # fmt: skip
    future = (harness.clock.now() + timedelta(minutes=1)).isoformat()
    later = (
        await harness.client.get(f"{API}/admin/audit", params={"since": future}, headers=headers)
    ).json()
    assert later["total"] == 0
    naive = harness.clock.now().replace(tzinfo=None) - timedelta(hours=1)
    recent = (
        await harness.client.get(
            f"{API}/admin/audit", params={"since": naive.isoformat()}, headers=headers
        )
    ).json()
    assert recent["total"] >= 3
    for bad in ({"event": "nonsense"}, {"since": "yesterday"}, {"user_id": "42"}):
        response = await harness.client.get(f"{API}/admin/audit", params=bad, headers=headers)
        assert response.status_code == 422, bad


async def test_is_active_must_be_a_real_boolean(harness: Harness) -> None:
    _, tokens = await harness.admin()
    email = await harness.user()
    user_id = await _user_id(harness, email)
    for lax in ("no", "off", "false", 0):
        response = await harness.client.patch(
            f"{API}/admin/users/{user_id}",
            headers=bearer(tokens["access_token"]),
            json={"is_active": lax},
        )
        assert response.status_code == 422, lax
    assert (await login(harness.client, email)).status_code == 200
