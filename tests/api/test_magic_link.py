"""Passwordless sign-in by email (SPEC §7.4): one mail, a magic link and a 6-digit code;
either signs in once and the other dies with it; no enumeration."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from sqlmodel import select

from app.models import AuditLog
from tests.conftest import Harness, HarnessFactory
from tests.support.flows import API, JSON, PASSWORD, bearer, login, new_email, register

CODE = re.compile(r"\b(\d{6})\b")


async def ask(harness: Harness, email: str, **extra: Any) -> Any:
    response = await harness.client.post(f"{API}/auth/magic-link", json={"email": email, **extra})
    await harness.settle()
    return response


def link_of(harness: Harness, email: str) -> str:
    return harness.mailbox.link(email, "/magic-link")


def token_of(harness: Harness, email: str) -> str:
    return parse_qs(urlsplit(link_of(harness, email)).query)["token"][0]


def code_of(harness: Harness, email: str) -> str:
    message = harness.mailbox.to(email)[-1]
    match = CODE.search(message.text.split("code", 1)[1])
    assert match, message.text
    return match.group(1)


async def with_link(harness: Harness, token: str) -> Any:
    return await harness.client.post(f"{API}/auth/magic-link/verify", json={"token": token})


async def with_code(harness: Harness, email: str, code: str) -> Any:
    return await harness.client.post(
        f"{API}/auth/email-code/verify", json={"email": email, "code": code}
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def events(harness: Harness, name: str) -> list[AuditLog]:
    async with harness.ctx.sessionmaker() as db:
        rows = await db.exec(select(AuditLog).where(AuditLog.event == name))
        return list(rows.all())


async def profile(harness: Harness, pair: dict[str, Any]) -> dict[str, Any]:
    response = await harness.client.get(
        f"{API}/users/profile", headers=bearer(pair["access_token"])
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_invalid(response: Any) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_token"


# Signing in -------------------------------------------------------------------


async def test_the_link_signs_in_and_records_how(harness: Harness) -> None:
    email = await harness.user()
    response = await ask(harness, email)
    assert response.status_code == 202
    (message,) = [m for m in harness.mailbox.to(email) if "/magic-link" in m.text]
    link = urlsplit(link_of(harness, email))
    assert f"{link.scheme}://{link.netloc}" == "http://frontend.test"
    assert link.path == "/magic-link"
    assert len(token_of(harness, email)) >= 43
    assert code_of(harness, email) in message.html

    signed_in = await with_link(harness, token_of(harness, email))
    assert signed_in.status_code == 200, signed_in.text
    pair = signed_in.json()
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    assert claims["amr"] == ["email"]
    assert (await profile(harness, pair))["email"] == email
    (success,) = await events(harness, "login_success")
    assert success.details == {"method": "magic_link"}
    (requested,) = await events(harness, "magic_link_requested")
    assert requested.user_id == success.user_id and requested.details == {}


async def test_the_code_signs_in_and_records_how(harness: Harness) -> None:
    email = await harness.user()
    await ask(harness, email)
    response = await with_code(harness, email.upper(), code_of(harness, email))
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["amr"] == ["email"]
    (success,) = await events(harness, "login_success")
    assert success.details == {"method": "email_code"}


async def test_codes_are_taken_with_spaces_or_a_dash(harness: Harness) -> None:
    email = await harness.user()
    await ask(harness, email)
    code = code_of(harness, email)
    response = await with_code(harness, email, f" {code[:3]} {code[3:]} ")
    assert response.status_code == 200, response.text
    await ask(harness, email)
    code = code_of(harness, email)
    assert (await with_code(harness, email, f"{code[:3]}-{code[3:]}")).status_code == 200


async def test_the_link_works_once_and_takes_the_code_with_it(harness: Harness) -> None:
    email = await harness.user()
    await ask(harness, email)
    token, code = token_of(harness, email), code_of(harness, email)
    assert (await with_link(harness, token)).status_code == 200
    assert_invalid(await with_link(harness, token))
    assert_invalid(await with_code(harness, email, code))


async def test_the_code_works_once_and_takes_the_link_with_it(harness: Harness) -> None:
    email = await harness.user()
    await ask(harness, email)
    token, code = token_of(harness, email), code_of(harness, email)
    assert (await with_code(harness, email, code)).status_code == 200
    assert_invalid(await with_code(harness, email, code))
    assert_invalid(await with_link(harness, token))


async def test_a_new_mail_voids_the_older_link_and_code(harness: Harness) -> None:
    email = await harness.user()
    await ask(harness, email)
    old_token, old_code = token_of(harness, email), code_of(harness, email)
    await ask(harness, email)
    new_token, new_code = token_of(harness, email), code_of(harness, email)
    assert new_token != old_token
    assert_invalid(await with_link(harness, old_token))
    if old_code != new_code:
        assert_invalid(await with_code(harness, email, old_code))
    assert (await with_link(harness, new_token)).status_code == 200


async def test_both_expire_after_magic_link_expire_minutes(make_harness: HarnessFactory) -> None:
    harness = await make_harness(MAGIC_LINK_EXPIRE_MINUTES=15)
    email = await harness.user()
    await ask(harness, email)
    assert "15 minutes" in harness.mailbox.to(email)[-1].text
    token, code = token_of(harness, email), code_of(harness, email)
    harness.clock.advance(minutes=15, seconds=1)
    assert_invalid(await with_link(harness, token))
    assert_invalid(await with_code(harness, email, code))


async def test_a_wrong_token_spends_nothing(harness: Harness) -> None:
    email = await harness.user()
    await ask(harness, email)
    assert_invalid(await with_link(harness, "not-the-token"))
    assert_invalid(await with_link(harness, token_of(harness, email)[:-1] + "x"))
    assert (await with_link(harness, token_of(harness, email))).status_code == 200


async def test_another_kind_of_token_is_not_a_magic_link(harness: Harness) -> None:
    email = new_email()
    await register(harness.client, email)
    await harness.settle()
    assert_invalid(await with_link(harness, harness.mailbox.token(email, "/verify-email")))


# Wrong codes ------------------------------------------------------------------


async def test_five_wrong_codes_void_the_code_and_its_link(harness: Harness) -> None:
    email = await harness.user()
    await ask(harness, email)
    token, code = token_of(harness, email), code_of(harness, email)
    for _ in range(5):
        assert_invalid(await with_code(harness, email, wrong(code)))
    assert_invalid(await with_code(harness, email, code))
    assert_invalid(await with_link(harness, token))


async def test_four_wrong_codes_leave_the_right_one_working(harness: Harness) -> None:
    email = await harness.user()
    await ask(harness, email)
    code = code_of(harness, email)
    for _ in range(4):
        assert_invalid(await with_code(harness, email, wrong(code)))
    assert (await with_code(harness, email, code)).status_code == 200


async def test_wrong_codes_do_not_lock_the_password(harness: Harness) -> None:
    email = await harness.user()
    for _ in range(2):
        await ask(harness, email)
        code = code_of(harness, email)
        for _ in range(5):
            assert_invalid(await with_code(harness, email, wrong(code)))
    assert (await login(harness.client, email)).status_code == 200
    failures = await events(harness, "login_failed")
    assert {f.details["reason"] for f in failures} == {"wrong_code"}
    assert all(f.details["method"] == "email_code" for f in failures)


async def test_an_address_takes_a_bounded_number_of_wrong_codes_a_day(
    harness: Harness,
) -> None:
    email = await harness.user()
    for _ in range(4):
        await ask(harness, email)
        code = code_of(harness, email)
        for _ in range(5):
            assert_invalid(await with_code(harness, email, wrong(code)))
    await ask(harness, email)
    assert_invalid(await with_code(harness, email, code_of(harness, email)))
    assert (await with_link(harness, token_of(harness, email))).status_code == 200


async def test_unknown_addresses_and_codes_never_mailed_answer_alike(harness: Harness) -> None:
    email = await harness.user()
    unknown = await with_code(harness, new_email(), "123456")
    known = await with_code(harness, email, "123456")
    assert_invalid(unknown)
    assert_invalid(known)
    assert unknown.json() == known.json()


# Enumeration --------------------------------------------------------------------


async def test_unknown_addresses_get_the_same_answer_and_nothing_else(harness: Harness) -> None:
    email = await harness.user()
    stranger = new_email()
    known = await ask(harness, email)
    unknown = await ask(harness, stranger)
    assert (
        (known.status_code, known.json())
        == (unknown.status_code, unknown.json())
        == (
            202,
            {"detail": "If the address belongs to an account, a sign-in email is on its way"},
        )
    )
    assert set(known.headers) - {"x-request-id"} == set(unknown.headers) - {"x-request-id"}
    assert harness.mailbox.to(stranger) == []
    assert (await login(harness.client, stranger)).status_code == 401
    requested = await events(harness, "magic_link_requested")
    assert sorted(str(r.details) for r in requested) == ["{'sent': False}", "{}"]
    async with harness.ctx.sessionmaker() as db:
        from app.models import User

        assert (await db.exec(select(User).where(User.email == stranger))).first() is None


# The account's state ----------------------------------------------------------------


async def test_a_sign_in_marks_the_address_verified(harness: Harness) -> None:
    email = new_email()
    await register(harness.client, email)
    await harness.settle()
    verify_token = harness.mailbox.token(email, "/verify-email")
    await ask(harness, email)
    response = await with_link(harness, token_of(harness, email))
    assert response.status_code == 200, response.text
    assert (await profile(harness, response.json()))["is_verified"] is True
    # What was set up before the mailbox was proven goes: the password and old links.
    assert (await login(harness.client, email)).status_code == 401
    verify = await harness.client.post(f"{API}/auth/verify-email", json={"token": verify_token})
    assert_invalid(verify)
    (verified,) = await events(harness, "email_verified")
    assert verified.details == {"via": "magic_link", "password_cleared": True}


async def test_a_verified_account_keeps_its_password(harness: Harness) -> None:
    email = await harness.user()
    await ask(harness, email)
    assert (await with_code(harness, email, code_of(harness, email))).status_code == 200
    assert (await login(harness.client, email)).status_code == 200


async def test_a_disabled_account_is_refused(harness: Harness) -> None:
    email = await harness.user()
    pair = await harness.login(email)
    user_id = (await profile(harness, pair))["id"]
    _, admin = await harness.admin()
    await ask(harness, email)
    await harness.client.patch(
        f"{API}/admin/users/{user_id}",
        json={"is_active": False},
        headers={**bearer(admin["access_token"]), **JSON},
    )
    response = await with_link(harness, token_of(harness, email))
    assert response.status_code == 403
    assert response.json()["code"] == "account_disabled"


async def test_a_locked_account_signs_in_this_way_and_stays_locked(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(ACCOUNT_LOCKOUT_THRESHOLD=3)
    email = await harness.user()
    for _ in range(3):
        await login(harness.client, email, "a wrong password")
    assert (await login(harness.client, email)).status_code == 423
    await ask(harness, email)
    assert (await with_link(harness, token_of(harness, email))).status_code == 200
    await ask(harness, email)
    assert (await with_code(harness, email, code_of(harness, email))).status_code == 200
    assert (await login(harness.client, email)).status_code == 423


async def test_neither_way_runs_bcrypt(harness: Harness) -> None:
    email = await harness.user()
    hasher = harness.ctx.hasher
    calls: list[str] = []

    class Counting:
        def __getattr__(self, name: str) -> Any:
            calls.append(name)
            return getattr(hasher, name)

    harness.ctx.hasher = Counting()  # type: ignore[assignment]
    try:
        await ask(harness, email)
        assert (await with_link(harness, token_of(harness, email))).status_code == 200
        await ask(harness, email)
        assert (await with_code(harness, email, code_of(harness, email))).status_code == 200
        assert_invalid(await with_code(harness, email, "000000"))
    finally:
        harness.ctx.hasher = hasher
    assert calls == []


# Redirect targets -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "passed"),
    [
        ("/dashboard?tab=2", "http://frontend.test/dashboard?tab=2"),
        ("http://frontend.test/settings", "http://frontend.test/settings"),
    ],
)
async def test_redirect_to_is_passed_along_resolved(
    harness: Harness, given: str, passed: str
) -> None:
    email = await harness.user()
    assert (await ask(harness, email, redirect_to=given)).status_code == 202
    query = parse_qs(urlsplit(link_of(harness, email)).query)
    assert query["redirect_to"] == [passed]


@pytest.mark.parametrize(
    "given",
    [
        "https://evil.test/",
        "//evil.test/x",
        "http://user@frontend.test/",
        "/\\evil.test",
        "/ok\r\nLocation: x",
        "javascript:alert(1)",
    ],
)
async def test_redirect_to_elsewhere_is_refused(harness: Harness, given: str) -> None:
    response = await harness.client.post(
        f"{API}/auth/magic-link", json={"email": new_email(), "redirect_to": given}
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_redirect"


async def test_without_redirect_to_the_link_has_none(harness: Harness) -> None:
    email = await harness.user()
    await ask(harness, email)
    assert set(parse_qs(urlsplit(link_of(harness, email)).query)) == {"token"}


# Bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email"},
        {"email": "a@b.test", "extra": 1},
        {"email": 5},
        {"email": "a@b.test", "redirect_to": "/" + "x" * 2048},
        {"email": "a@b.test", "redirect_to": "/\udc80"},
    ],
)
async def test_malformed_requests_are_422(harness: Harness, body: dict[str, Any]) -> None:
    # json.dumps escapes a lone surrogate (\udc80), as a client's JSON encoder may.
    response = await harness.client.post(
        f"{API}/auth/magic-link", content=json.dumps(body), headers=JSON
    )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "code", ["12345", "1234567", "abcdef", "12345６", "", 123456, None, "1" * 40]
)
async def test_codes_of_the_wrong_shape_are_422(harness: Harness, code: object) -> None:
    response = await harness.client.post(
        f"{API}/auth/email-code/verify", json={"email": new_email(), "code": code}
    )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("token", ["", "x" * 600, "\u0000abc"])
async def test_malformed_link_tokens_are_422(harness: Harness, token: str) -> None:
    response = await harness.client.post(f"{API}/auth/magic-link/verify", json={"token": token})
    assert response.status_code == 422, response.text


# Rate limits ---------------------------------------------------------------------------


async def test_the_request_route_has_a_per_client_budget(make_harness: HarnessFactory) -> None:
    harness = await make_harness(AUTH_RATE_LIMIT_PER_MINUTE=3)
    for _ in range(3):
        assert (await ask(harness, new_email())).status_code == 202
    refused = await ask(harness, new_email())
    assert refused.status_code == 429
    assert "retry-after" in refused.headers
    # Its own budget: login is still open to this client.
    assert (await login(harness.client, new_email())).status_code == 401


@pytest.mark.parametrize("known", [True, False])
async def test_the_request_route_has_a_per_account_budget_that_treats_unknown_alike(
    make_harness: HarnessFactory, known: bool
) -> None:
    harness = await make_harness(AUTH_RATE_LIMIT_PER_MINUTE=3)
    email = await harness.user() if known else new_email()
    statuses = []
    for i in range(4):
        client = harness.new_client((f"198.51.100.{i + 1}", 40000))
        response = await client.post(f"{API}/auth/magic-link", json={"email": email})
        statuses.append(response.status_code)
    assert statuses == [202, 202, 202, 429]


async def test_the_verify_routes_share_logins_per_client_budget(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(AUTH_RATE_LIMIT_PER_MINUTE=3)
    assert (await login(harness.client, new_email())).status_code == 401
    assert_invalid(await with_link(harness, "some-token"))
    assert_invalid(await with_code(harness, new_email(), "123456"))
    assert (await login(harness.client, new_email())).status_code == 429
    assert (await with_link(harness, "some-token")).status_code == 429


async def test_the_code_route_shares_logins_per_account_budget(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(AUTH_RATE_LIMIT_PER_MINUTE=3)
    email = new_email()
    statuses = []
    for i in range(2):
        client = harness.new_client((f"198.51.100.{i + 1}", 40000))
        statuses.append((await login(client, email, PASSWORD)).status_code)
    client = harness.new_client(("198.51.100.9", 40000))
    response = await client.post(
        f"{API}/auth/email-code/verify", json={"email": email, "code": "123456"}
    )
    statuses.append(response.status_code)
    response = await client.post(
        f"{API}/auth/email-code/verify", json={"email": email, "code": "123456"}
    )
    statuses.append(response.status_code)
    assert statuses == [401, 401, 400, 429]
