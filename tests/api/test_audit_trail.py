"""Every security event of SPEC §5 leaves an audit row, with client details and no secret."""

from __future__ import annotations

from sqlmodel import select

from app.models import AuditLog
from tests.conftest import Harness
from tests.support.flows import API, PASSWORD, bearer, login, new_email, register

AGENT = {"User-Agent": "audit-test/1.0"}


async def test_flows_leave_the_expected_audit_rows(harness: Harness) -> None:
    client = harness.new_client(peer=("203.0.113.5", 4444), headers=AGENT)
    email = new_email()
    await register(client, email)
    await harness.settle()
    await client.post(
        f"{API}/auth/verify-email", json={"token": harness.mailbox.token(email, "/verify-email")}
    )
    await login(client, email, "wrong password")
    for _ in range(5):
        await login(client, email, "wrong password")  # locks
    _, admin_tokens = await harness.admin()
    user_id = (
        await harness.client.get(
            f"{API}/admin/users",
            params={"email": email},
            headers=bearer(admin_tokens["access_token"]),
        )
    ).json()["items"][0]["id"]
    await harness.client.post(
        f"{API}/admin/users/{user_id}/unlock", headers=bearer(admin_tokens["access_token"])
    )
    first = (await login(client, email)).json()
    second = (await login(client, email)).json()
    await login(client, email)  # a third device, signed out below
    refreshed = (
        await client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    await client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    sessions = (
        await client.get(f"{API}/users/sessions", headers=bearer(second["access_token"]))
    ).json()
    other = next(s for s in sessions if not s["current"])
    await client.delete(
        f"{API}/users/sessions/{other['id']}", headers=bearer(second["access_token"])
    )
    await client.post(
        f"{API}/users/change-password",
        headers=bearer(second["access_token"]),
        json={"current_password": PASSWORD, "new_password": "audited passphrase"},
    )
    await client.put(
        f"{API}/users/profile", headers=bearer(second["access_token"]), json={"full_name": "A"}
    )
    await client.post(f"{API}/auth/password-reset", json={"email": email})
    await harness.settle()
    await client.post(
        f"{API}/auth/password-reset/complete",
        json={
            "token": harness.mailbox.token(email, "/reset-password"),
            "new_password": "reset passphrase 1",
        },
    )
    third = (await login(client, email, "reset passphrase 1")).json()
    await client.post(f"{API}/auth/logout", headers=bearer(third["access_token"]))
    fourth = (await login(client, email, "reset passphrase 1")).json()
    await client.post(f"{API}/auth/logout-all", headers=bearer(fourth["access_token"]))
    assert "access_token" in refreshed

    async with harness.ctx.sessionmaker() as db:
        rows = (await db.exec(select(AuditLog).where(AuditLog.ip == "203.0.113.5"))).all()
    events = {row.event for row in rows}
    assert events >= {
        "register",
        "email_verified",
        "login_failed",
        "account_locked",
        "login_success",
        "token_refreshed",
        "refresh_token_reuse",
        "session_revoked",
        "password_changed",
        "user_updated",
        "password_reset_requested",
        "password_reset_completed",
        "logout",
        "logout_all",
    }, events
    for row in rows:
        assert row.user_agent == "audit-test/1.0"
        text = str(row.details)
        for secret in (
            PASSWORD,
            "audited passphrase",
            "reset passphrase 1",
            first["refresh_token"],
        ):
            assert secret not in text
    async with harness.ctx.sessionmaker() as db:
        unlocked = (
            await db.exec(select(AuditLog).where(AuditLog.event == "account_unlocked"))
        ).one()
    assert str(unlocked.user_id) == user_id and unlocked.actor_id is not None
