"""SPEC §6 "Hardening": findings of a code review, each reproduced before its fix."""

from __future__ import annotations

import pytest

from tests.conftest import Harness, HarnessFactory
from tests.support.flows import API, PASSWORD, bearer, new_email, register

NEW_PASSWORD = "a brand new passphrase"


# Names: no line breaks, no reordering of the text around them ------------------


@pytest.mark.parametrize(
    "name",
    [
        "Ada\u2028Lovelace",  # line separator
        "Ada\u2029Lovelace",  # paragraph separator
        "Ada \u202eecalevoL",  # right-to-left override
        "Ada \u202aLovelace\u202c",  # left-to-right embedding ... pop
        "Ada \u2067Lovelace\u2069",  # right-to-left isolate ... pop isolate
        "Ada \u2066x\u2069 \u2068y\u2069",  # left-to-right and first-strong isolates
    ],
)
async def test_names_refuse_separators_and_bidi_controls(harness: Harness, name: str) -> None:
    email = new_email()
    response = await register(harness.client, email, full_name=name)
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], list)
    user = await harness.user()
    headers = bearer((await harness.login(user))["access_token"])
    update = await harness.client.put(
        f"{API}/users/profile", json={"full_name": name}, headers=headers
    )
    assert update.status_code == 422, update.text


async def test_names_in_any_script_are_still_welcome(harness: Harness) -> None:
    for name in ("Ada Lovelace", "أدا لوفلايس", "Ада Лавлейс", "エイダ", "José Núñez-O'Brien"):
        response = await register(harness.client, new_email(), full_name=name)
        assert response.status_code == 201, (name, response.text)
        assert response.json()["full_name"] == name


async def test_resent_verification_mails_leave_out_the_registrants_name(
    harness: Harness,
) -> None:
    email = new_email()
    await register(harness.client, email, full_name="Visit evil.example now")
    response = await harness.client.post(f"{API}/auth/verify-email/resend", json={"email": email})
    assert response.status_code == 202
    await harness.settle()
    messages = harness.mailbox.to(email)
    assert len(messages) == 2
    for message in messages:
        assert "evil" not in message.text + message.html + message.subject


# A password change voids outstanding reset links ---------------------------------


async def test_a_password_change_voids_outstanding_reset_links(harness: Harness) -> None:
    email = await harness.user()
    pair = await harness.login(email)
    await harness.client.post(f"{API}/auth/password-reset", json={"email": email})
    await harness.settle()
    link_token = harness.mailbox.token(email, "/reset-password")
    changed = await harness.client.post(
        f"{API}/users/change-password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(pair["access_token"]),
    )
    assert changed.status_code == 204, changed.text
    reset = await harness.client.post(
        f"{API}/auth/password-reset/complete",
        json={"token": link_token, "new_password": "the attacker's passphrase"},
    )
    assert reset.status_code == 400 and reset.json()["code"] == "invalid_token"
    assert (
        await harness.client.post(
            f"{API}/auth/login", json={"email": email, "password": NEW_PASSWORD}
        )
    ).status_code == 200


# current_password has a per-account budget -----------------------------------------


async def test_current_password_guesses_have_a_per_account_budget(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(AUTH_RATE_LIMIT_PER_MINUTE=3, RATE_LIMIT_PER_MINUTE=1000)
    email = await harness.user()
    headers = bearer((await harness.login(email))["access_token"])
    statuses = []
    for i in range(4):
        # A new address for every guess: the per-address budgets never run out.
        client = harness.new_client(peer=(f"198.51.100.{i}", 1))
        response = await client.post(
            f"{API}/users/change-password",
            json={"current_password": f"guess number {i}", "new_password": NEW_PASSWORD},
            headers=headers,
        )
        statuses.append((response.status_code, response.json()["code"]))
    assert statuses == [(400, "wrong_password")] * 3 + [(429, "rate_limited")]
    # Another account's budget is its own.
    other = await harness.user()
    other_headers = bearer((await harness.login(other))["access_token"])
    response = await harness.new_client(peer=("198.51.100.9", 1)).post(
        f"{API}/users/change-password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=other_headers,
    )
    assert response.status_code == 204, response.text


# Dates in filters ----------------------------------------------------------------


@pytest.mark.parametrize(
    "since",
    [
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
        "0000-01-01T00:00:00",
        "2026-13-01T00:00:00",
        "yesterday",
    ],
)
async def test_out_of_range_dates_in_filters_are_422(harness: Harness, since: str) -> None:
    _, pair = await harness.admin()
    response = await harness.client.get(
        f"{API}/admin/audit", params={"since": since}, headers=bearer(pair["access_token"])
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "since"]


@pytest.mark.parametrize(
    ("since", "total"),
    [
        ("2026-01-01T00:00:00+01:00", 2),
        ("2026-01-01T00:00:00", 2),
        ("0001-01-01T00:00:00", 2),  # the first instant there is, in UTC
        ("0001-01-01T01:00:00+01:00", 2),
        ("9999-12-31T23:59:59", 0),
        ("9999-12-31T22:59:59-01:00", 0),
    ],
)
async def test_dates_in_range_filter(harness: Harness, since: str, total: int) -> None:
    _, pair = await harness.admin()
    response = await harness.client.get(
        f"{API}/admin/audit", params={"since": since}, headers=bearer(pair["access_token"])
    )
    assert response.status_code == 200, response.text
    assert response.json()["total"] == total  # the admin's registration and sign-in
