"""The signed-in user's passkeys: list, rename, delete, and the account's last way in."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import select

from app.models import AuditLog, OAuthAccount, User
from tests.conftest import Harness
from tests.support import passkeys
from tests.support.authenticator import Authenticator
from tests.support.flows import JSON, bearer


async def signed_in(harness: Harness) -> tuple[str, str]:
    email = await harness.user()
    return email, (await harness.login(email))["access_token"]


async def listed(harness: Harness, access: str) -> list[dict[str, Any]]:
    response = await harness.client.get(passkeys.USERS, headers=bearer(access))
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


async def rename(harness: Harness, access: str, passkey_id: str, name: Any) -> Any:
    return await harness.client.patch(
        f"{passkeys.USERS}/{passkey_id}", json={"name": name}, headers={**bearer(access), **JSON}
    )


async def delete(harness: Harness, access: str, passkey_id: str) -> Any:
    return await harness.client.delete(f"{passkeys.USERS}/{passkey_id}", headers=bearer(access))


async def make_passwordless(harness: Harness, email: str, *, provider: bool = False) -> None:
    """The account signs in by passkey only (and, with `provider`, through GitHub)."""
    async with harness.ctx.sessionmaker() as db:
        user = (await db.exec(select(User).where(User.email == email))).one()
        user.hashed_password = None
        if provider:
            db.add(
                OAuthAccount(
                    user_id=user.id,
                    provider="github",
                    provider_user_id=uuid.uuid4().hex,
                    created_at=harness.clock.now(),
                )
            )
        await db.commit()


async def test_the_list_shows_only_the_callers_passkeys_oldest_first(harness: Harness) -> None:
    _, alice = await signed_in(harness)
    _, bob = await signed_in(harness)
    assert await listed(harness, alice) == []
    first = await passkeys.added(harness.client, alice, Authenticator())
    harness.clock.advance(seconds=1)
    second = await passkeys.added(harness.client, alice, Authenticator())
    await passkeys.added(harness.client, bob, Authenticator())
    assert [p["id"] for p in await listed(harness, alice)] == [first["id"], second["id"]]
    assert len(await listed(harness, bob)) == 1


async def test_listing_needs_a_signed_in_user(harness: Harness) -> None:
    response = await harness.client.get(passkeys.USERS)
    assert response.status_code == 401


async def test_a_passkey_is_renamed(harness: Harness) -> None:
    _, access = await signed_in(harness)
    passkey = await passkeys.added(harness.client, access, Authenticator())
    response = await rename(harness, access, passkey["id"], " Phone ")
    assert response.status_code == 200, response.text
    assert response.json() == {**passkey, "name": "Phone"}
    assert (await listed(harness, access))[0]["name"] == "Phone"


async def test_a_name_must_be_a_plain_non_empty_string(harness: Harness) -> None:
    _, access = await signed_in(harness)
    passkey = await passkeys.added(harness.client, access, Authenticator())
    for name in ("", "   ", "x" * 101, "tab\there", None, 5):
        assert (await rename(harness, access, passkey["id"], name)).status_code == 422, name


async def test_someone_elses_passkey_is_not_found(harness: Harness) -> None:
    _, alice = await signed_in(harness)
    _, bob = await signed_in(harness)
    passkey = await passkeys.added(harness.client, alice, Authenticator())
    for response in (
        await rename(harness, bob, passkey["id"], "mine now"),
        await delete(harness, bob, passkey["id"]),
        await rename(harness, bob, str(uuid.uuid4()), "nothing"),
        await delete(harness, bob, str(uuid.uuid4())),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert (await listed(harness, alice))[0]["name"] == "Passkey"


async def test_deleting_a_passkey_is_audited(harness: Harness) -> None:
    _, access = await signed_in(harness)
    passkey = await passkeys.added(harness.client, access, Authenticator())
    response = await delete(harness, access, passkey["id"])
    assert response.status_code == 204
    assert await listed(harness, access) == []
    async with harness.ctx.sessionmaker() as db:
        rows = await db.exec(select(AuditLog).where(AuditLog.event == "passkey_removed"))
        (row,) = rows.all()
    assert row.details == {"passkey_id": passkey["id"], "name": "Passkey"}
    assert (await delete(harness, access, passkey["id"])).status_code == 404


async def test_with_a_password_the_last_passkey_can_go(harness: Harness) -> None:
    _, access = await signed_in(harness)
    passkey = await passkeys.added(harness.client, access, Authenticator())
    assert (await delete(harness, access, passkey["id"])).status_code == 204


async def test_the_last_way_into_an_account_stays(harness: Harness) -> None:
    email, access = await signed_in(harness)
    first = await passkeys.added(harness.client, access, Authenticator())
    second = await passkeys.added(harness.client, access, Authenticator())
    await make_passwordless(harness, email)
    assert (await delete(harness, access, first["id"])).status_code == 204
    response = await delete(harness, access, second["id"])
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This is the account's last way to sign in",
        "code": "last_credential",
    }
    assert [p["id"] for p in await listed(harness, access)] == [second["id"]]
    async with harness.ctx.sessionmaker() as db:
        rows = await db.exec(select(AuditLog).where(AuditLog.event == "passkey_removed"))
        assert len(rows.all()) == 1


async def test_a_provider_identity_is_a_way_in(harness: Harness) -> None:
    email, access = await signed_in(harness)
    passkey = await passkeys.added(harness.client, access, Authenticator())
    await make_passwordless(harness, email, provider=True)
    assert (await delete(harness, access, passkey["id"])).status_code == 204
