"""CAPTCHA on the public forms (SPEC §7.4): header X-Captcha-Token, checked by posting a
form to the provider's siteverify URL; only `"success": true` passes, anything else
(and no answer) is 400 captcha_failed."""

from __future__ import annotations

from typing import Any

import pytest

from app.config import CAPTCHA_VERIFY_URLS
from tests.conftest import Harness, HarnessFactory, base_settings
from tests.support import prom
from tests.support.fake_services import (
    CAPTCHA_SECRET,
    CAPTCHA_SETTINGS,
    GOOD_TOKEN,
    FakeServices,
    Fault,
)
from tests.support.flows import API, PASSWORD, new_email

HEADER = "X-Captcha-Token"
PROTECTED = [
    ("/auth/register", lambda: {"email": new_email(), "password": PASSWORD}, 201),
    ("/auth/password-reset", lambda: {"email": new_email()}, 202),
    ("/auth/verify-email/resend", lambda: {"email": new_email()}, 202),
    ("/auth/magic-link", lambda: {"email": new_email()}, 202),
]


async def start(make_harness: HarnessFactory, **overrides: Any) -> tuple[Harness, FakeServices]:
    fakes = FakeServices()
    harness = await make_harness(
        app_kwargs={"http_transport": fakes.transport}, **{**CAPTCHA_SETTINGS, **overrides}
    )
    return harness, fakes


def assert_refused(response: Any) -> None:
    assert response.status_code == 400, response.text
    assert response.json() == {
        "detail": "The CAPTCHA check failed; try again",
        "code": "captcha_failed",
    }


@pytest.mark.parametrize(("path", "body", "status"), PROTECTED, ids=[p for p, _, _ in PROTECTED])
async def test_each_public_form_needs_a_token_the_provider_accepts(
    make_harness: HarnessFactory, path: str, body: Any, status: int
) -> None:
    harness, fakes = await start(make_harness)
    assert_refused(await harness.client.post(f"{API}{path}", json=body()))
    assert fakes.captcha_forms == []  # no token: nothing to ask
    assert_refused(await harness.client.post(f"{API}{path}", json=body(), headers={HEADER: "bad"}))
    response = await harness.client.post(f"{API}{path}", json=body(), headers={HEADER: GOOD_TOKEN})
    assert response.status_code == status, response.text


async def test_the_provider_gets_secret_response_and_remoteip_as_a_form(
    make_harness: HarnessFactory,
) -> None:
    harness, fakes = await start(make_harness)
    await harness.client.post(
        f"{API}/auth/password-reset", json={"email": new_email()}, headers={HEADER: GOOD_TOKEN}
    )
    assert fakes.captcha_forms == [
        {"secret": CAPTCHA_SECRET, "response": GOOD_TOKEN, "remoteip": "127.0.0.1"}
    ]


async def test_login_and_other_routes_need_none(make_harness: HarnessFactory) -> None:
    harness, fakes = await start(make_harness)
    response = await harness.client.post(
        f"{API}/auth/login", json={"email": new_email(), "password": PASSWORD}
    )
    assert response.status_code == 401
    assert fakes.captcha_forms == []


@pytest.mark.parametrize(
    "fault",
    [
        Fault(body="<!doctype html><html><body>Bad gateway</body></html>"),
        Fault(status=500, body='{"success": true}'),
        Fault(body='{"success": "true"}'),
        Fault(body='[{"success": true}]'),
        Fault(body='{"error-codes": []}'),
        Fault(body="\xff\xfe not json"),
        Fault(timeout=True),
    ],
    ids=["html", "500", "string-true", "list", "no-success", "bytes", "timeout"],
)
async def test_anything_but_success_true_fails_closed(
    make_harness: HarnessFactory, fault: Fault
) -> None:
    harness, fakes = await start(make_harness)
    fakes.captcha_fault = fault
    response = await harness.client.post(
        f"{API}/auth/register",
        json={"email": new_email(), "password": PASSWORD},
        headers={HEADER: GOOD_TOKEN},
    )
    assert_refused(response)


async def test_an_unreachable_provider_fails_closed(make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness, CAPTCHA_VERIFY_URL="http://nowhere.test/siteverify")
    response = await harness.client.post(
        f"{API}/auth/magic-link", json={"email": new_email()}, headers={HEADER: GOOD_TOKEN}
    )
    assert_refused(response)


async def test_an_oversized_token_is_refused_without_asking(make_harness: HarnessFactory) -> None:
    harness, fakes = await start(make_harness)
    response = await harness.client.post(
        f"{API}/auth/magic-link", json={"email": new_email()}, headers={HEADER: "a" * 9000}
    )
    assert_refused(response)
    assert fakes.captcha_forms == []


async def test_checks_are_counted(make_harness: HarnessFactory) -> None:
    harness, fakes = await start(make_harness)

    async def count(result: str) -> float:
        text = (await harness.client.get("/metrics")).text
        return prom.value(text, "auth_captcha_checks_total", result=result)

    before = {r: await count(r) for r in ("passed", "refused", "unavailable")}
    url = f"{API}/auth/password-reset"
    await harness.client.post(url, json={"email": new_email()}, headers={HEADER: GOOD_TOKEN})
    await harness.client.post(url, json={"email": new_email()}, headers={HEADER: "bad"})
    fakes.captcha_fault = Fault(status=502)
    await harness.client.post(url, json={"email": new_email()}, headers={HEADER: GOOD_TOKEN})
    assert {r: await count(r) - before[r] for r in before} == {
        "passed": 1,
        "refused": 1,
        "unavailable": 1,
    }


async def test_off_by_default(harness: Harness) -> None:
    assert harness.settings.CAPTCHA_PROVIDER is None
    response = await harness.client.post(f"{API}/auth/password-reset", json={"email": new_email()})
    assert response.status_code == 202


async def test_cors_lets_browsers_send_the_header(make_harness: HarnessFactory) -> None:
    harness, _ = await start(make_harness, BACKEND_CORS_ORIGINS="http://frontend.test")
    response = await harness.client.options(
        f"{API}/auth/register",
        headers={
            "Origin": "http://frontend.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-captcha-token",
        },
    )
    assert response.status_code == 200, response.text
    assert "x-captcha-token" in response.headers["access-control-allow-headers"].lower()


def test_verify_url_defaults_to_the_providers_siteverify(database_url: str) -> None:
    for provider in ("turnstile", "hcaptcha"):
        settings = base_settings(database_url, CAPTCHA_PROVIDER=provider, CAPTCHA_SECRET="s")
        assert settings.captcha_verify_url == CAPTCHA_VERIFY_URLS[provider]
    assert CAPTCHA_VERIFY_URLS == {
        "turnstile": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
        "hcaptcha": "https://api.hcaptcha.com/siteverify",
    }
    assert base_settings(database_url).captcha_verify_url is None


async def test_the_header_is_documented_on_the_protected_routes(harness: Harness) -> None:
    paths = (await harness.client.get("/openapi.json")).json()["paths"]
    for path, _, _ in PROTECTED:
        parameters = paths[f"{API}{path}"]["post"].get("parameters", [])
        assert any(p["name"] == HEADER and p["in"] == "header" for p in parameters), path
    login = paths[f"{API}/auth/login"]["post"].get("parameters", [])
    assert not any(p["name"] == HEADER for p in login)
