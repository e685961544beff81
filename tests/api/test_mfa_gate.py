"""The second-factor gate on every way in (SPEC §7.1): the OAuth exchange and email
sign-in stop at 403 `mfa_required` like a password does, and finish with a code;
passkeys are multi-factor by themselves."""

from __future__ import annotations

from typing import Any

import jwt
from sqlmodel import select

from app.models import AuditLog
from tests.api.test_magic_link import ask, code_of, token_of, with_code, with_link
from tests.conftest import Harness, HarnessFactory
from tests.support import oauth_flow
from tests.support.totp import enrol, mfa_token, verify


def amr(pair: dict[str, Any]) -> list[str]:
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    return list(claims["amr"])


async def methods(harness: Harness) -> list[str]:
    async with harness.ctx.sessionmaker() as db:
        rows = await db.exec(
            select(AuditLog).where(AuditLog.event == "login_success").order_by(AuditLog.created_at)  # type: ignore[arg-type]
        )
        return [row.details["method"] for row in rows.all()]


async def test_the_oauth_exchange_is_gated(make_harness: HarnessFactory) -> None:
    setup = await oauth_flow.start(make_harness)
    harness = setup.harness
    pair = await setup.browser.tokens("google")
    app, _ = await enrol(harness.client, pair["access_token"], harness.clock)
    landing = oauth_flow.query(await setup.browser.sign_in("google"))
    response = await setup.browser.exchange(landing["code"])
    token = mfa_token(response)
    # The exchange code was spent by the first step.
    assert (await setup.browser.exchange(landing["code"])).status_code == 400
    done = await verify(harness.client, token, app.code())
    assert done.status_code == 200, done.text
    assert amr(done.json()) == ["fed", "otp", "mfa"]
    assert (await methods(harness))[-1] == "oauth"


async def test_the_magic_link_and_email_code_are_gated(harness: Harness) -> None:
    email = await harness.user()
    pair = await harness.login(email)
    app, codes = await enrol(harness.client, pair["access_token"], harness.clock)

    await ask(harness, email)
    token = mfa_token(await with_link(harness, token_of(harness, email)))
    done = await verify(harness.client, token, app.code())
    assert done.status_code == 200, done.text
    assert amr(done.json()) == ["email", "otp", "mfa"]

    await ask(harness, email)
    token = mfa_token(await with_code(harness, email, code_of(harness, email)))
    done = await verify(harness.client, token, codes[0])
    assert done.status_code == 200, done.text
    assert amr(done.json()) == ["email", "mfa"]
    assert (await methods(harness))[-2:] == ["magic_link", "email_code"]
