"""Signing in with a passkey (SPEC §7.2): usernameless options, every check of the
assertion, counters and clones, lockout and rate limits."""

from __future__ import annotations

import uuid
from typing import Any

import jwt
import pytest
from sqlmodel import select

from app.models import AuditLog, Passkey, User
from tests.conftest import Harness, HarnessFactory
from tests.support import passkeys
from tests.support.authenticator import UP, UV, Authenticator, Key, b64url
from tests.support.flows import API, JSON, bearer, login

INVALID = {"detail": "Incorrect email or password", "code": "invalid_credentials"}


async def enrolled(harness: Harness, **options: Any) -> tuple[str, str, Authenticator]:
    """A verified user with one passkey: (email, access token, authenticator)."""
    email = await harness.user()
    access = (await harness.login(email))["access_token"]
    authenticator = Authenticator(**options)
    await passkeys.added(harness.client, access, authenticator)
    return email, access, authenticator


async def rows(harness: Harness, event: str) -> list[AuditLog]:
    async with harness.ctx.sessionmaker() as db:
        result = await db.exec(
            select(AuditLog).where(AuditLog.event == event).order_by(AuditLog.created_at)
        )
        return list(result.all())


async def verify(harness: Harness, credential: Any) -> Any:
    return await harness.client.post(f"{passkeys.LOGIN}/verify", json={"credential": credential})


def claims(pair: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(pair["access_token"], options={"verify_signature": False})
    return decoded


# Options -----------------------------------------------------------------------------


async def test_request_options_are_usernameless(harness: Harness) -> None:
    options = await passkeys.login_options(harness.client)
    assert set(options) == {"challenge", "timeout", "rpId", "allowCredentials", "userVerification"}
    assert options["allowCredentials"] == []
    assert options["rpId"] == "frontend.test"
    assert options["userVerification"] == "required"
    assert options["timeout"] == 300000
    assert options != await passkeys.login_options(harness.client)  # a new challenge each time


# Success -------------------------------------------------------------------------------


async def test_a_passkey_signs_in_with_multi_factor_amr(harness: Harness) -> None:
    email, access, authenticator = await enrolled(harness)
    response = await passkeys.sign_in(harness.client, authenticator)
    assert response.status_code == 200, response.text
    pair = response.json()
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert claims(pair)["amr"] == ["hwk", "user", "mfa"]
    profile = await harness.client.get(f"{API}/users/profile", headers=bearer(pair["access_token"]))
    assert profile.json()["email"] == email
    (event,) = (await rows(harness, "login_success"))[-1:]
    assert event.details == {"method": "passkey"}
    assert str(event.user_id) == profile.json()["id"]
    refreshed = await harness.client.post(
        f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 200
    assert claims(refreshed.json())["amr"] == ["hwk", "user", "mfa"]


async def test_a_sign_in_records_its_use(harness: Harness) -> None:
    _, access, authenticator = await enrolled(harness)
    harness.clock.advance(minutes=5)
    assert (await passkeys.sign_in(harness.client, authenticator, flags=UP | UV)).status_code == 200
    (listed,) = (await harness.client.get(passkeys.USERS, headers=bearer(access))).json()
    assert listed["last_used_at"] is not None
    assert listed["last_used_at"] > listed["created_at"]


async def test_the_user_handle_may_be_absent(harness: Harness) -> None:
    _, _, authenticator = await enrolled(harness)
    response = await passkeys.sign_in(harness.client, authenticator, user_handle="omit")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("algorithm", ["EdDSA", "RS256"])
async def test_other_algorithms_sign_in(harness: Harness, algorithm: Any) -> None:
    _, _, authenticator = await enrolled(harness, algorithm=algorithm)
    assert (await passkeys.sign_in(harness.client, authenticator)).status_code == 200


async def test_an_unverified_email_does_not_stop_a_passkey(harness: Harness) -> None:
    """The passkey was registered by a signed-in user; the flag is not asked again."""
    email, _, authenticator = await enrolled(harness)
    async with harness.ctx.sessionmaker() as db:
        user = (await db.exec(select(User).where(User.email == email))).one()
        user.is_verified = False
        await db.commit()
    assert (await passkeys.sign_in(harness.client, authenticator)).status_code == 200


# Every check -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tweaks",
    [
        pytest.param({"origin": "http://evil.test"}, id="origin"),
        pytest.param({"type": "webauthn.create"}, id="type"),
        pytest.param({"rp_id": "evil.test"}, id="rp-id-hash"),
        pytest.param({"flags": UV}, id="no-user-presence"),
        pytest.param({"flags": UP}, id="no-user-verification"),
        pytest.param({"signer": Key()}, id="signature"),
        pytest.param({"user_handle": b"\x07" * 32}, id="user-handle-of-another"),
        pytest.param({"challenge": b64url(b"\x01" * 32)}, id="unknown-challenge"),
    ],
)
async def test_an_assertion_failing_a_check_is_refused(
    harness: Harness, tweaks: dict[str, Any]
) -> None:
    _, _, authenticator = await enrolled(harness)
    response = await passkeys.sign_in(harness.client, authenticator, **tweaks)
    assert response.status_code == 401, response.text
    assert response.json() == INVALID
    assert await rows(harness, "passkey_clone_suspected") == []
    (failed,) = await rows(harness, "login_failed")
    assert failed.details["method"] == "passkey"
    # The genuine authenticator still signs in.
    assert (await passkeys.sign_in(harness.client, authenticator)).status_code == 200


async def test_another_accounts_user_handle_is_refused(harness: Harness) -> None:
    _, _, alice = await enrolled(harness)
    _, _, bob = await enrolled(harness)
    assert bob.user_handle is not None
    response = await passkeys.sign_in(harness.client, alice, user_handle=bob.user_handle)
    assert response.status_code == 401


async def test_an_unknown_credential_is_refused(harness: Harness) -> None:
    await enrolled(harness)
    stranger = Authenticator()
    stranger.user_handle = b"\x01" * 32
    response = await passkeys.sign_in(harness.client, stranger)
    assert response.status_code == 401
    assert response.json() == INVALID


async def test_a_challenge_is_single_use(harness: Harness) -> None:
    _, _, authenticator = await enrolled(harness)
    options = await passkeys.login_options(harness.client)
    assert (await verify(harness, authenticator.sign_in(options))).status_code == 200
    replay = await verify(harness, authenticator.sign_in(options))
    assert replay.status_code == 401
    assert replay.json() == INVALID


async def test_a_registration_challenge_does_not_sign_in(harness: Harness) -> None:
    _, access, authenticator = await enrolled(harness)
    registration = await passkeys.registration_options(harness.client, access)
    options = await passkeys.login_options(harness.client)
    credential = authenticator.sign_in(options, challenge=registration["challenge"])
    assert (await verify(harness, credential)).status_code == 401


async def test_a_deleted_passkey_no_longer_signs_in(harness: Harness) -> None:
    _, access, authenticator = await enrolled(harness)
    (listed,) = (await harness.client.get(passkeys.USERS, headers=bearer(access))).json()
    deleted = await harness.client.delete(
        f"{passkeys.USERS}/{listed['id']}", headers=bearer(access)
    )
    assert deleted.status_code == 204
    assert (await passkeys.sign_in(harness.client, authenticator)).status_code == 401


async def test_a_deactivated_account_cannot_sign_in(harness: Harness) -> None:
    email, access, authenticator = await enrolled(harness)
    _, admin = await harness.admin()
    user_id = (await harness.client.get(f"{API}/users/profile", headers=bearer(access))).json()[
        "id"
    ]
    response = await harness.client.patch(
        f"{API}/admin/users/{user_id}",
        json={"is_active": False},
        headers={**bearer(admin["access_token"]), **JSON},
    )
    assert response.status_code == 200, response.text
    response = await passkeys.sign_in(harness.client, authenticator)
    assert response.status_code == 401
    assert response.json() == INVALID


def _garbage(credential: dict[str, Any]) -> list[Any]:
    response = credential["response"]
    return [
        None,
        "x",
        [1, 2],
        {},
        {**credential, "rawId": "=="},
        {**credential, "rawId": "A"},
        {**credential, "id": b64url(b"other")},
        {**credential, "type": "x"},
        {**credential, "response": {}},
        {**credential, "response": {**response, "signature": "!"}},
        {**credential, "response": {**response, "signature": b64url(b"\x30\x00")}},
        {**credential, "response": {**response, "authenticatorData": b64url(b"\x00" * 10)}},
        {**credential, "response": {**response, "authenticatorData": "A"}},
        {**credential, "response": {**response, "clientDataJSON": b64url(b"{" * 4000)}},
        {**credential, "response": {**response, "clientDataJSON": b64url(b"null")}},
        {**credential, "response": {**response, "userHandle": "***"}},
        {**credential, "response": {**response, "userHandle": 5}},
    ]


async def test_malformed_credentials_are_invalid_credentials_never_500(harness: Harness) -> None:
    _, _, authenticator = await enrolled(harness)
    for garbage in _garbage(authenticator.sign_in(await passkeys.login_options(harness.client))):
        response = await verify(harness, garbage)
        assert response.status_code == 401, (garbage, response.text)
        assert response.json() == INVALID
    missing = await harness.client.post(f"{passkeys.LOGIN}/verify", json={})
    assert missing.status_code == 401


async def test_each_check_spends_the_challenge(harness: Harness) -> None:
    """A refused response cannot be corrected and tried again with the same challenge."""
    _, _, authenticator = await enrolled(harness)
    options = await passkeys.login_options(harness.client)
    assert (await verify(harness, authenticator.sign_in(options, flags=UP))).status_code == 401
    assert (await verify(harness, authenticator.sign_in(options))).status_code == 401


# Counters ---------------------------------------------------------------------------


async def test_a_growing_counter_signs_in_each_time(harness: Harness) -> None:
    _, _, authenticator = await enrolled(harness, counter_step=1)
    for _ in range(3):
        assert (await passkeys.sign_in(harness.client, authenticator)).status_code == 200
    async with harness.ctx.sessionmaker() as db:
        stored = (await db.exec(select(Passkey))).one()
    assert stored.sign_count == 3


async def test_a_counter_that_does_not_grow_is_refused_and_audited(harness: Harness) -> None:
    _, _, authenticator = await enrolled(harness, counter_step=1)
    assert (await passkeys.sign_in(harness.client, authenticator)).status_code == 200
    assert (await passkeys.sign_in(harness.client, authenticator)).status_code == 200
    # A clone holding the same key, one use behind.
    response = await passkeys.sign_in(harness.client, authenticator, sign_count=2)
    assert response.status_code == 401
    assert response.json() == INVALID
    (suspected,) = await rows(harness, "passkey_clone_suspected")
    assert suspected.details["stored_sign_count"] == 2
    assert suspected.details["presented_sign_count"] == 2
    assert (await passkeys.sign_in(harness.client, authenticator, sign_count=0)).status_code == 401
    assert len(await rows(harness, "passkey_clone_suspected")) == 2
    # The genuine authenticator goes on.
    assert (await passkeys.sign_in(harness.client, authenticator)).status_code == 200


async def test_a_forged_response_with_an_old_counter_is_not_a_clone(harness: Harness) -> None:
    _, _, authenticator = await enrolled(harness, counter_step=1)
    assert (await passkeys.sign_in(harness.client, authenticator)).status_code == 200
    forged = await passkeys.sign_in(harness.client, authenticator, sign_count=1, signer=Key())
    assert forged.status_code == 401
    assert await rows(harness, "passkey_clone_suspected") == []


async def test_a_counter_may_stay_zero(harness: Harness) -> None:
    """Synced passkeys report no counter (always 0): that is not a clone."""
    _, _, authenticator = await enrolled(harness)
    for _ in range(2):
        assert (await passkeys.sign_in(harness.client, authenticator)).status_code == 200
    assert await rows(harness, "passkey_clone_suspected") == []


# Lockout and rate limits --------------------------------------------------------------


async def test_passkey_failures_do_not_count_toward_the_lockout(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(ACCOUNT_LOCKOUT_THRESHOLD=2)
    email, _, authenticator = await enrolled(harness)
    for _ in range(4):
        refused = await passkeys.sign_in(harness.client, authenticator, flags=UP)
        assert refused.status_code == 401
    assert (await login(harness.client, email)).status_code == 200


async def test_a_locked_password_does_not_stop_a_passkey(make_harness: HarnessFactory) -> None:
    """The lock guards the password, as for email sign-in (§7.4); it is not lifted."""
    harness = await make_harness(ACCOUNT_LOCKOUT_THRESHOLD=2)
    email, _, authenticator = await enrolled(harness)
    for _ in range(2):
        await login(harness.client, email, "wrong password, twice")
    assert (await login(harness.client, email)).status_code == 423
    assert (await passkeys.sign_in(harness.client, authenticator)).status_code == 200
    assert (await login(harness.client, email)).status_code == 423


async def test_passkey_sign_in_shares_logins_per_client_limit(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(AUTH_RATE_LIMIT_PER_MINUTE=3)
    email = await harness.user()
    access = (await harness.login(email))["access_token"]  # 1 of login's 3
    authenticator = Authenticator()
    await passkeys.added(harness.client, access, authenticator)
    assert (await passkeys.sign_in(harness.client, authenticator)).status_code == 200  # 2
    response = await login(harness.client, email, "wrong")  # 3
    assert response.status_code == 401
    limited = await passkeys.sign_in(harness.client, authenticator)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"]
    assert (await login(harness.client, email)).status_code == 429
    # Another client has its own budget.
    other = harness.new_client(("10.0.0.9", 1234))
    assert (await passkeys.sign_in(other, authenticator)).status_code == 200


async def test_options_have_their_own_per_client_budget(make_harness: HarnessFactory) -> None:
    harness = await make_harness(AUTH_RATE_LIMIT_PER_MINUTE=2)
    for _ in range(2):
        assert (await harness.client.post(f"{passkeys.LOGIN}/options")).status_code == 200
    assert (await harness.client.post(f"{passkeys.LOGIN}/options")).status_code == 429


async def test_sign_in_is_shared_across_workers(make_harness: HarnessFactory) -> None:
    import os

    from app.cache.memory import MemoryStore

    kwargs: dict[str, Any] = {"REDIS_KEY_PREFIX": f"test-passkeys-{uuid.uuid4().hex[:8]}"}
    if not os.environ.get("TEST_REDIS_URL"):
        kwargs["app_kwargs"] = {"store": MemoryStore()}
    first = await make_harness(**kwargs)
    second = await make_harness(**kwargs)
    _, _, authenticator = await enrolled(first)
    options = await passkeys.login_options(first.client)
    response = await second.client.post(
        f"{passkeys.LOGIN}/verify", json={"credential": authenticator.sign_in(options)}
    )
    assert response.status_code == 200, response.text


async def test_the_second_factor_gate_does_not_ask_again(harness: Harness) -> None:
    """An account with TOTP on: a password sign-in stops at 403 `mfa_required`, a
    passkey sign-in (multi-factor by itself) goes through."""
    from tests.support.totp import enrol

    email, access, authenticator = await enrolled(harness)
    await enrol(harness.client, access, harness.clock)
    password = await login(harness.client, email)
    assert password.status_code == 403
    assert password.json()["code"] == "mfa_required"
    response = await passkeys.sign_in(harness.client, authenticator)
    assert response.status_code == 200, response.text
    assert claims(response.json())["amr"] == ["hwk", "user", "mfa"]
