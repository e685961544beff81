from __future__ import annotations

from tests.conftest import Harness
from tests.support.flows import API, login, new_email, register


async def _verify(harness: Harness, token: str) -> tuple[int, dict[str, object]]:
    response = await harness.client.post(f"{API}/auth/verify-email", json={"token": token})
    return response.status_code, response.json()


async def test_verification_link_is_single_use(harness: Harness) -> None:
    email = new_email()
    await register(harness.client, email)
    await harness.settle()
    token = harness.mailbox.token(email, "/verify-email")
    assert await _verify(harness, token) == (200, {"detail": "Email verified"})
    status, body = await _verify(harness, token)
    assert status == 400 and body["code"] == "invalid_token"
    assert (await login(harness.client, email)).status_code == 200


async def test_verification_token_expires_after_a_day(harness: Harness) -> None:
    email = new_email()
    await register(harness.client, email)
    await harness.settle()
    token = harness.mailbox.token(email, "/verify-email")
    harness.clock.advance(hours=24, seconds=1)
    assert (await _verify(harness, token))[0] == 400
    assert (await login(harness.client, email)).status_code == 403


async def test_wrong_token_spends_nothing(harness: Harness) -> None:
    email = new_email()
    await register(harness.client, email)
    await harness.settle()
    token = harness.mailbox.token(email, "/verify-email")
    assert (await _verify(harness, token + "x"))[0] == 400
    assert (await _verify(harness, "garbage"))[0] == 400
    assert (await _verify(harness, token))[0] == 200


async def test_resend_voids_the_older_link(harness: Harness) -> None:
    email = new_email()
    await register(harness.client, email)
    await harness.settle()
    first = harness.mailbox.token(email, "/verify-email")
    response = await harness.client.post(
        f"{API}/auth/verify-email/resend", json={"email": email.upper()}
    )
    assert response.status_code == 202
    await harness.settle()
    second = harness.mailbox.token(email, "/verify-email")
    assert first != second
    assert (await _verify(harness, first))[0] == 400
    assert (await _verify(harness, second))[0] == 200


async def test_resend_answers_the_same_for_every_address(harness: Harness) -> None:
    verified = await harness.user()
    unverified = new_email()
    await register(harness.client, unverified)
    await harness.settle()
    before = len(harness.mailbox.messages)
    answers = []
    for email in (verified, unverified, new_email()):
        response = await harness.client.post(
            f"{API}/auth/verify-email/resend", json={"email": email}
        )
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 202
    await harness.settle()
    # Only the unverified account gets mail.
    assert [m.to for m in harness.mailbox.messages[before:]] == [unverified]


async def test_reset_token_is_not_a_verification_token(harness: Harness) -> None:
    email = new_email()
    await register(harness.client, email)
    await harness.client.post(f"{API}/auth/password-reset", json={"email": email})
    await harness.settle()
    reset = harness.mailbox.token(email, "/reset-password")
    assert (await _verify(harness, reset))[0] == 400
    # ...and trying it did not spend it.
    response = await harness.client.post(
        f"{API}/auth/password-reset/complete",
        json={"token": reset, "new_password": "another sturdy passphrase"},
    )
    assert response.status_code == 200
