"""The second factor (SPEC §7.1) over HTTP: enrolment, the gate, verification,
recovery codes, step-up and the admin reset. pyotp plays the authenticator app."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any
from urllib.parse import quote

import jwt
import pyotp
from sqlmodel import func, select

from app.models import AuditLog, RecoveryCode, User, UserSession
from tests.conftest import Harness, HarnessFactory
from tests.support.flows import API, PASSWORD, bearer, login
from tests.support.totp import MFA, Authenticator, enrol, mfa_token, verify

RECOVERY = re.compile(
    r"^[23456789abcdefghjkmnpqrstuvwxyz]{5}-[23456789abcdefghjkmnpqrstuvwxyz]{5}$"
)


def claims(pair: dict[str, Any]) -> dict[str, Any]:
    return jwt.decode(pair["access_token"], options={"verify_signature": False})


async def events(harness: Harness, name: str) -> list[AuditLog]:
    async with harness.ctx.sessionmaker() as db:
        rows = await db.exec(select(AuditLog).where(AuditLog.event == name))
        return list(rows.all())


async def session_count(harness: Harness) -> int:
    async with harness.ctx.sessionmaker() as db:
        return int((await db.exec(select(func.count()).select_from(UserSession))).one())


async def enrolled(harness: Harness) -> tuple[str, dict[str, Any], Authenticator, list[str]]:
    email = await harness.user()
    pair = await harness.login(email)
    app, codes = await enrol(harness.client, pair["access_token"], harness.clock)
    return email, pair, app, codes


async def test_setup_gives_secret_uri_and_svg(harness: Harness) -> None:
    email = await harness.user()
    pair = await harness.login(email)
    response = await harness.client.post(f"{MFA}/totp/setup", headers=bearer(pair["access_token"]))
    assert response.status_code == 200, response.text
    body = response.json()
    secret = body["secret"]
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)  # 20 bytes, base32, no padding
    issuer = quote("Auth backend", safe="")
    assert body["otpauth_uri"] == (
        f"otpauth://totp/{issuer}:{quote(email, safe='')}?secret={secret}&issuer={issuer}"
        "&algorithm=SHA1&digits=6&period=30"
    )
    parsed = pyotp.parse_uri(body["otpauth_uri"])
    assert parsed.secret == secret and parsed.issuer == "Auth backend"
    assert body["qr_svg"].lstrip().startswith("<svg") and "</svg>" in body["qr_svg"]
    # Nothing is on until confirmed.
    status = await harness.client.get(MFA, headers=bearer(pair["access_token"]))
    assert status.json() == {"totp_enabled": False, "recovery_codes_left": 0}
    assert (await harness.login(email))["access_token"]


async def test_confirm_turns_totp_on_and_shows_recovery_codes_once(harness: Harness) -> None:
    email = await harness.user()
    pair = await harness.login(email)
    headers = bearer(pair["access_token"])
    nothing = await harness.client.post(
        f"{MFA}/totp/confirm", json={"code": "123456"}, headers=headers
    )
    assert nothing.status_code == 400 and nothing.json()["code"] == "invalid_mfa_code"
    first = (await harness.client.post(f"{MFA}/totp/setup", headers=headers)).json()
    second = (await harness.client.post(f"{MFA}/totp/setup", headers=headers)).json()
    assert first["secret"] != second["secret"]
    old = pyotp.TOTP(first["secret"]).at(harness.clock.now())
    replaced = await harness.client.post(f"{MFA}/totp/confirm", json={"code": old}, headers=headers)
    assert replaced.status_code == 400 and replaced.json()["code"] == "invalid_mfa_code"
    code = pyotp.TOTP(second["secret"]).at(harness.clock.now())
    response = await harness.client.post(
        f"{MFA}/totp/confirm", json={"code": code}, headers=headers
    )
    assert response.status_code == 200, response.text
    codes = response.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(RECOVERY.match(c) for c in codes)
    status = await harness.client.get(MFA, headers=headers)
    assert status.json() == {"totp_enabled": True, "recovery_codes_left": 10}
    profile = await harness.client.get(f"{API}/users/profile", headers=headers)
    assert profile.json()["mfa_enabled"] is True
    again = await harness.client.post(f"{MFA}/totp/setup", headers=headers)
    assert again.status_code == 409 and again.json()["code"] == "mfa_already_enabled"
    confirm_again = await harness.client.post(
        f"{MFA}/totp/confirm", json={"code": code}, headers=headers
    )
    assert confirm_again.status_code == 400
    assert len(await events(harness, "mfa_enabled")) == 1
    # At rest: neither the secret nor a recovery code is readable from the rows.
    async with harness.ctx.sessionmaker() as db:
        user = (await db.exec(select(User).where(User.email == email))).one()
        rows = (await db.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id))).all()
    assert user.totp_secret and second["secret"] not in user.totp_secret
    assert user.totp_pending_secret is None
    stored = {row.code_hash for row in rows}
    assert len(stored) == 10
    assert not any(c.replace("-", "") in h or c in h for c in codes for h in stored)


async def test_the_gate_stops_login_and_verify_finishes_it(harness: Harness) -> None:
    email, _, app, _ = await enrolled(harness)
    before = await session_count(harness)
    response = await login(harness.client, email)
    body = response.json()
    assert response.status_code == 403
    assert set(body) == {"detail", "code", "mfa_token", "methods"}
    assert body["methods"] == ["totp", "recovery_code"]
    assert await session_count(harness) == before  # nothing opened
    done = await verify(harness.client, body["mfa_token"], app.code())
    assert done.status_code == 200, done.text
    assert claims(done.json())["amr"] == ["pwd", "otp", "mfa"]
    assert await session_count(harness) == before + 1
    refreshed = await harness.client.post(
        f"{API}/auth/refresh", json={"refresh_token": done.json()["refresh_token"]}
    )
    assert claims(refreshed.json())["amr"] == ["pwd", "otp", "mfa"]
    # Single use.
    again = await verify(harness.client, body["mfa_token"], app.next())
    assert again.status_code == 400 and again.json()["code"] == "invalid_token"
    success = await events(harness, "login_success")
    assert success[-1].details == {"method": "password"}


async def test_the_oauth2_form_is_gated_too(harness: Harness) -> None:
    email, _, app, _ = await enrolled(harness)
    response = await harness.client.post(
        f"{API}/auth/token", data={"username": email, "password": PASSWORD}
    )
    done = await verify(harness.client, mfa_token(response), app.code())
    assert done.status_code == 200, done.text


async def test_a_totp_step_is_accepted_once(harness: Harness) -> None:
    email, _, app, _ = await enrolled(harness)
    code = app.code()
    first = await verify(harness.client, mfa_token(await login(harness.client, email)), code)
    assert first.status_code == 200
    token = mfa_token(await login(harness.client, email))
    replay = await verify(harness.client, token, code)
    assert replay.status_code == 400 and replay.json()["code"] == "invalid_mfa_code"
    # The previous and next steps are accepted (clock drift), each once.
    assert (await verify(harness.client, token, app.code(steps=1))).status_code == 200
    harness.clock.advance(seconds=90)  # step +1 above is now the current step -2
    token = mfa_token(await login(harness.client, email))
    assert (await verify(harness.client, token, app.code(steps=-1))).status_code == 200
    token = mfa_token(await login(harness.client, email))
    too_old = await verify(harness.client, token, app.code(steps=-2))
    assert too_old.status_code == 400


async def test_a_recovery_code_signs_in_once_and_mails_the_user(harness: Harness) -> None:
    email, _, _, codes = await enrolled(harness)
    token = mfa_token(await login(harness.client, email))
    typed = " " + codes[0].upper().replace("-", " ") + " "  # any case, spaces, no dash
    done = await verify(harness.client, token, typed)
    assert done.status_code == 200, done.text
    assert claims(done.json())["amr"] == ["pwd", "mfa"]
    await harness.settle()
    mail = harness.mailbox.to(email)[-1]
    assert mail.subject == "A recovery code was used"
    assert "Unused recovery codes left: 9." in mail.text
    (used,) = await events(harness, "mfa_recovery_code_used")
    assert used.details["left"] == 9
    token = mfa_token(await login(harness.client, email))
    reused = await verify(harness.client, token, codes[0])
    assert reused.status_code == 400 and reused.json()["code"] == "invalid_mfa_code"
    status = await harness.client.get(MFA, headers=bearer(done.json()["access_token"]))
    assert status.json()["recovery_codes_left"] == 9


async def test_five_wrong_codes_kill_the_token_and_count_toward_lockout(
    harness: Harness,
) -> None:
    email, _, app, _ = await enrolled(harness)
    token = mfa_token(await login(harness.client, email))
    for _ in range(5):
        wrong = await verify(harness.client, token, "000000")
        assert wrong.status_code == 400 and wrong.json()["code"] == "invalid_mfa_code"
    dead = await verify(harness.client, token, app.code())
    assert dead.status_code == 400 and dead.json()["code"] == "invalid_token"
    assert len(await events(harness, "mfa_challenge_failed")) == 5
    # Five failures in a row lock the account (ACCOUNT_LOCKOUT_THRESHOLD = 5).
    locked = await login(harness.client, email)
    assert locked.status_code == 423, locked.text


async def test_a_new_mfa_token_does_not_reset_the_count(harness: Harness) -> None:
    email, _, app, _ = await enrolled(harness)
    token = mfa_token(await login(harness.client, email))
    for _ in range(3):
        assert (await verify(harness.client, token, "000000")).status_code == 400
    token = mfa_token(await login(harness.client, email))  # the password is right
    for _ in range(2):
        assert (await verify(harness.client, token, "000000")).status_code == 400
    assert (await login(harness.client, email)).status_code == 423
    locked = await verify(harness.client, token, app.code())
    assert locked.status_code == 423


async def test_the_second_factor_clears_earlier_failures(make_harness: HarnessFactory) -> None:
    harness = await make_harness(ACCOUNT_LOCKOUT_THRESHOLD=3)
    email, _, app, _ = await enrolled(harness)
    assert (await login(harness.client, email, "not the password at all")).status_code == 401
    token = mfa_token(await login(harness.client, email))
    assert (await verify(harness.client, token, "000000")).status_code == 400
    assert (await verify(harness.client, token, app.code())).status_code == 200
    token = mfa_token(await login(harness.client, email))
    assert (await verify(harness.client, token, "000000")).status_code == 400
    assert (await verify(harness.client, token, "000000")).status_code == 400
    assert (await verify(harness.client, token, app.next())).status_code == 200


async def test_wrong_codes_add_to_password_failures(make_harness: HarnessFactory) -> None:
    harness = await make_harness(ACCOUNT_LOCKOUT_THRESHOLD=3)
    email, _, app, _ = await enrolled(harness)
    token = mfa_token(await login(harness.client, email))
    wrong_password = await login(harness.client, email, "not the password at all")
    assert wrong_password.status_code == 401
    assert (await verify(harness.client, token, "111111")).status_code == 400
    assert (await verify(harness.client, token, "222222")).status_code == 400
    # Locked now: even the right code waits for the lock to end.
    locked = await verify(harness.client, token, app.code())
    assert locked.status_code == 423 and locked.json()["code"] == "account_locked"


async def test_verify_shares_logins_rate_limits(make_harness: HarnessFactory) -> None:
    harness = await make_harness(AUTH_RATE_LIMIT_PER_MINUTE=3, ACCOUNT_LOCKOUT_THRESHOLD=50)
    email = await harness.user()
    pair = await harness.login(email)  # 1
    await enrol(harness.client, pair["access_token"], harness.clock)
    token = mfa_token(await login(harness.client, email))  # 2
    assert (await verify(harness.client, token, "000000")).status_code == 400  # 3
    limited = await verify(harness.client, token, "000000")
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
    assert limited.headers["Retry-After"]


MALFORMED = ["", "12345", "1234567", "abcdef", "ⅠⅡⅢⅣⅤⅥ", "١٢٣٤٥٦", "x" * 64, "k7m2p-x9qr0"]


async def test_malformed_codes_are_400(make_harness: HarnessFactory) -> None:
    harness = await make_harness(ACCOUNT_LOCKOUT_THRESHOLD=100)
    email, _, _, _ = await enrolled(harness)
    for code in MALFORMED:
        token = mfa_token(await login(harness.client, email))
        response = await verify(harness.client, token, code)
        assert response.status_code == 400, (code, response.text)
        assert response.json()["code"] == "invalid_mfa_code"


async def test_bad_verify_bodies_are_4xx(harness: Harness) -> None:
    unknown = await harness.client.post(
        f"{API}/auth/mfa/verify", json={"mfa_token": "nope", "code": "123456"}
    )
    assert unknown.status_code == 400 and unknown.json()["code"] == "invalid_token"
    for body in (
        {"code": "123456"},
        {"mfa_token": 1, "code": 1},
        {"mfa_token": "t", "code": "1" * 65},
    ):
        response = await harness.client.post(f"{API}/auth/mfa/verify", json=body)
        assert response.status_code == 422, response.text


async def test_without_totp_there_is_nothing_to_disable(harness: Harness) -> None:
    email = await harness.user()
    headers = bearer((await harness.login(email))["access_token"])
    for path in ("/totp/disable", "/recovery-codes"):
        response = await harness.client.post(
            f"{MFA}{path}", json={"code": "123456"}, headers=headers
        )
        assert response.status_code == 400 and response.json()["code"] == "invalid_mfa_code"
    assert (await harness.client.get(MFA)).status_code == 401


async def test_disable_needs_a_code_and_removes_everything(harness: Harness) -> None:
    email, pair, app, codes = await enrolled(harness)
    headers = bearer(pair["access_token"])
    wrong = await harness.client.post(
        f"{MFA}/totp/disable", json={"code": "000000"}, headers=headers
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "invalid_mfa_code"
    response = await harness.client.post(
        f"{MFA}/totp/disable", json={"code": codes[3]}, headers=headers
    )
    assert response.status_code == 204, response.text
    assert (await harness.client.get(MFA, headers=headers)).json() == {
        "totp_enabled": False,
        "recovery_codes_left": 0,
    }
    assert (await login(harness.client, email)).status_code == 200
    async with harness.ctx.sessionmaker() as db:
        left = (await db.exec(select(func.count()).select_from(RecoveryCode))).one()
    assert left == 0
    assert len(await events(harness, "mfa_disabled")) == 1
    await harness.settle()  # disabled with a recovery code: the owner hears of it
    mail = harness.mailbox.to(email)[-1]
    assert mail.subject == "A recovery code was used"
    assert "Unused recovery codes left: 0." in mail.text
    profile = await harness.client.get(f"{API}/users/profile", headers=headers)
    assert profile.json()["mfa_enabled"] is False


async def test_new_recovery_codes_void_the_old_ones(harness: Harness) -> None:
    email, pair, app, old = await enrolled(harness)
    headers = bearer(pair["access_token"])
    missing = await harness.client.post(f"{MFA}/recovery-codes", json={}, headers=headers)
    assert missing.status_code == 422
    response = await harness.client.post(
        f"{MFA}/recovery-codes", json={"code": app.code()}, headers=headers
    )
    assert response.status_code == 200, response.text
    new = response.json()["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    token = mfa_token(await login(harness.client, email))
    assert (await verify(harness.client, token, old[0])).status_code == 400
    assert (await verify(harness.client, token, new[0])).status_code == 200
    assert len(await events(harness, "mfa_recovery_codes_regenerated")) == 1


async def test_change_password_steps_up(harness: Harness) -> None:
    email, pair, app, codes = await enrolled(harness)
    headers = bearer(pair["access_token"])
    body = {"current_password": PASSWORD, "new_password": "another sturdy passphrase"}
    url = f"{API}/users/change-password"
    missing = await harness.client.post(url, json=body, headers=headers)
    assert missing.status_code == 400 and missing.json()["code"] == "invalid_mfa_code"
    wrong = await harness.client.post(url, json={**body, "code": "000000"}, headers=headers)
    assert wrong.status_code == 400 and wrong.json()["code"] == "invalid_mfa_code"
    assert (await login(harness.client, email)).status_code == 403  # old password still works
    ok = await harness.client.post(url, json={**body, "code": app.code()}, headers=headers)
    assert ok.status_code == 204, ok.text
    assert (await login(harness.client, email, "another sturdy passphrase")).status_code == 403


async def test_change_password_without_totp_needs_no_code(harness: Harness) -> None:
    email = await harness.user()
    headers = bearer((await harness.login(email))["access_token"])
    body = {"current_password": PASSWORD, "new_password": "another sturdy passphrase"}
    response = await harness.client.post(f"{API}/users/change-password", json=body, headers=headers)
    assert response.status_code == 204


async def test_a_password_reset_keeps_totp_on(harness: Harness) -> None:
    email, _, _, _ = await enrolled(harness)
    await harness.client.post(f"{API}/auth/password-reset", json={"email": email})
    await harness.settle()
    token = harness.mailbox.token(email, "/reset-password")
    response = await harness.client.post(
        f"{API}/auth/password-reset/complete",
        json={"token": token, "new_password": "another sturdy passphrase"},
    )
    assert response.status_code == 200
    assert (await login(harness.client, email, "another sturdy passphrase")).status_code == 403


async def test_admin_reset_for_a_lost_device(harness: Harness) -> None:
    email, pair, _, _ = await enrolled(harness)
    _, admin = await harness.admin()
    user = await harness.client.get(f"{API}/users/profile", headers=bearer(pair["access_token"]))
    user_id = user.json()["id"]
    url = f"{API}/admin/users/{user_id}/mfa/reset"
    refused = await harness.client.post(url, headers=bearer(pair["access_token"]))
    assert refused.status_code == 403
    unknown = await harness.client.post(
        f"{API}/admin/users/{uuid.uuid4()}/mfa/reset", headers=bearer(admin["access_token"])
    )
    assert unknown.status_code == 404
    response = await harness.client.post(url, headers=bearer(admin["access_token"]))
    assert response.status_code == 204, response.text
    # Signed out everywhere; a password alone signs in again.
    gone = await harness.client.get(f"{API}/users/profile", headers=bearer(pair["access_token"]))
    assert gone.status_code == 401
    again = await login(harness.client, email)
    assert again.status_code == 200
    assert claims(again.json())["amr"] == ["pwd"]
    await harness.settle()
    assert harness.mailbox.to(email)[-1].subject == "Two-factor authentication was turned off"
    (reset,) = await events(harness, "mfa_reset")
    assert str(reset.user_id) == user_id and reset.actor_id != reset.user_id
    assert reset.details["sessions_revoked"] >= 1


async def test_the_recovery_code_mail_is_in_the_users_language(harness: Harness) -> None:
    email, pair, _, codes = await enrolled(harness)
    await harness.client.put(
        f"{API}/users/profile", json={"locale": "de"}, headers=bearer(pair["access_token"])
    )
    token = mfa_token(await login(harness.client, email))
    assert (await verify(harness.client, token, codes[1])).status_code == 200
    await harness.settle()
    mail = harness.mailbox.to(email)[-1]
    assert mail.subject == "Ein Wiederherstellungscode wurde verwendet"
    assert "Wiederherstellungscodes: 9." in mail.text


async def test_a_recovery_code_steps_up_once_and_mails(harness: Harness) -> None:
    email, pair, _, codes = await enrolled(harness)
    headers = bearer(pair["access_token"])
    url = f"{API}/users/change-password"
    body = {
        "current_password": PASSWORD,
        "new_password": "another sturdy passphrase",
        "code": codes[0],
    }
    assert (await harness.client.post(url, json=body, headers=headers)).status_code == 204
    await harness.settle()
    assert "Unused recovery codes left: 9." in harness.mailbox.to(email)[-1].text
    again = {**body, "current_password": "another sturdy passphrase", "new_password": PASSWORD}
    reused = await harness.client.post(url, json=again, headers=headers)
    assert reused.status_code == 400 and reused.json()["code"] == "invalid_mfa_code"
    (failed,) = await events(harness, "mfa_challenge_failed")
    assert failed.details == {"action": "change_password", "reason": "wrong_code"}


async def test_regenerating_with_a_recovery_code_mails_the_owner(harness: Harness) -> None:
    email, pair, _, codes = await enrolled(harness)
    response = await harness.client.post(
        f"{MFA}/recovery-codes", json={"code": codes[0]}, headers=bearer(pair["access_token"])
    )
    assert response.status_code == 200, response.text
    await harness.settle()
    assert "Unused recovery codes left: 10." in harness.mailbox.to(email)[-1].text
    (used,) = await events(harness, "mfa_recovery_code_used")
    assert used.details["action"] == "regenerate"


async def test_step_up_codes_share_one_per_account_budget(make_harness: HarnessFactory) -> None:
    """A stolen access token cannot try every code on the routes that need one."""
    harness = await make_harness(AUTH_RATE_LIMIT_PER_MINUTE=3, ACCOUNT_LOCKOUT_THRESHOLD=50)
    _, pair, _, _ = await enrolled(harness)
    headers = bearer(pair["access_token"])
    wrong = {"code": "000000"}
    # Enrolment's confirm spent one of the three; two wrong codes on two routes spend the rest.
    for path in ("/totp/disable", "/recovery-codes"):
        response = await harness.client.post(f"{MFA}{path}", json=wrong, headers=headers)
        assert response.status_code == 400, (path, response.text)
    for path in ("/totp/disable", "/recovery-codes"):
        limited = await harness.client.post(f"{MFA}{path}", json=wrong, headers=headers)
        assert limited.status_code == 429 and limited.json()["code"] == "rate_limited", path


async def test_one_mfa_token_presented_twice_at_once_opens_one_session(harness: Harness) -> None:
    """Two verifies racing with one token, each with a code that is valid on its own (the
    app's and a recovery code): exactly one signs in; the other finds the token spent."""
    email, _, app, codes = await enrolled(harness)
    before = await session_count(harness)
    token = mfa_token(await login(harness.client, email))
    answers = await asyncio.gather(
        verify(harness.client, token, app.code()), verify(harness.client, token, codes[0])
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 400], [answer.text for answer in answers]
    refused = next(answer for answer in answers if answer.status_code == 400)
    assert refused.json()["code"] == "invalid_token"
    assert await session_count(harness) == before + 1
