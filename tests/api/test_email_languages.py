"""Emails in the user's language (SPEC §7.4): `UserOut.locale`, else the registering
request's Accept-Language, else English; unsupported tags are kept and fall back."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness
from tests.support.flows import API, JSON, bearer, new_email, register

SUBJECTS = {
    "verify_email": {
        "en": "Confirm your email address",
        "de": "Bestätigen Sie Ihre E-Mail-Adresse",
        "fr": "Confirmez votre adresse e-mail",
        "es": "Confirme su dirección de correo electrónico",
    },
    "reset_password": {
        "en": "Reset your password",
        "de": "Passwort zurücksetzen",
        "fr": "Réinitialisez votre mot de passe",
        "es": "Restablezca su contraseña",
    },
    "magic_link": {
        "en": "Your sign-in link and code",
        "de": "Ihr Anmeldelink und -code",
        "fr": "Votre lien et votre code de connexion",
        "es": "Su enlace y código de inicio de sesión",
    },
}


def language_of(harness: Harness, email: str, mail: str) -> str:
    subject = harness.mailbox.to(email)[-1].subject
    (language,) = [lang for lang, text in SUBJECTS[mail].items() if text == subject]
    return language


async def sign_up(
    harness: Harness, accept_language: str | None = None, **body: Any
) -> tuple[str, dict[str, Any]]:
    email = new_email()
    headers = {"Accept-Language": accept_language} if accept_language else None
    response = await register(harness.client, email, headers=headers, **body)
    assert response.status_code == 201, response.text
    await harness.settle()
    return email, response.json()


@pytest.mark.parametrize(
    ("locale", "accept", "expected_locale", "language"),
    [
        ("de", None, "de", "de"),
        ("fr-CA", "de", "fr-CA", "fr"),
        (None, "es-MX,es;q=0.9,en;q=0.5", None, "es"),
        (None, "ja,fr;q=0.3", None, "fr"),
        ("ja-JP", "de-DE", "ja-JP", "de"),
        ("x-klingon", None, "x-klingon", "en"),
        (None, None, None, "en"),
        (None, "*;q=0.5, garbage;;q=", None, "en"),
    ],
)
async def test_the_first_mail_is_in_the_chosen_language(
    harness: Harness,
    locale: str | None,
    accept: str | None,
    expected_locale: str | None,
    language: str,
) -> None:
    body = {"locale": locale} if locale else {}
    email, user = await sign_up(harness, accept, **body)
    assert user["locale"] == expected_locale
    assert language_of(harness, email, "verify_email") == language


async def test_later_mails_remember_the_sign_up_language(harness: Harness) -> None:
    email, _ = await sign_up(harness, "fr-FR")
    for path in ("verify-email/resend", "password-reset", "magic-link"):
        await harness.client.post(f"{API}/auth/{path}", json={"email": email})
        await harness.settle()  # one at a time: the mails' order is then fixed
    subjects = [m.subject for m in harness.mailbox.to(email)]
    assert subjects == [
        SUBJECTS["verify_email"]["fr"],
        SUBJECTS["verify_email"]["fr"],
        SUBJECTS["reset_password"]["fr"],
        SUBJECTS["magic_link"]["fr"],
    ]


async def test_the_profile_sets_and_forgets_the_locale(harness: Harness) -> None:
    email, _ = await sign_up(harness, "de")
    token = harness.mailbox.token(email, "/verify-email")
    await harness.client.post(f"{API}/auth/verify-email", json={"token": token})
    headers = {**bearer((await harness.login(email))["access_token"]), **JSON}

    async def reset_language() -> str:
        await harness.client.post(f"{API}/auth/password-reset", json={"email": email})
        await harness.settle()
        return language_of(harness, email, "reset_password")

    assert await reset_language() == "de"
    response = await harness.client.put(
        f"{API}/users/profile", headers=headers, json={"locale": "es-419"}
    )
    assert response.status_code == 200 and response.json()["locale"] == "es-419"
    profile = await harness.client.get(f"{API}/users/profile", headers=headers)
    assert profile.content == response.content  # the cached rendering is FastAPI's
    assert await reset_language() == "es"
    response = await harness.client.put(
        f"{API}/users/profile", headers=headers, json={"locale": "pt-BR"}
    )
    assert response.json()["locale"] == "pt-BR"
    assert await reset_language() == "de"  # unsupported: kept, and the sign-up language serves
    response = await harness.client.put(
        f"{API}/users/profile", headers=headers, json={"locale": None}
    )
    assert response.json()["locale"] is None
    assert await reset_language() == "de"


@pytest.mark.parametrize(
    "locale", ["english!", "", "de_DE", "a" * 36, 5, ["de"], "de\u0000", "de-"]
)
async def test_malformed_locales_are_422(harness: Harness, locale: object) -> None:
    response = await register(harness.client, new_email(), locale=locale)
    assert response.status_code == 422, response.text
    email = await harness.user()
    headers = {**bearer((await harness.login(email))["access_token"]), **JSON}
    response = await harness.client.put(
        f"{API}/users/profile", headers=headers, json={"locale": locale}
    )
    assert response.status_code == 422, response.text


async def test_the_magic_link_mail_is_in_the_users_language(harness: Harness) -> None:
    email, _ = await sign_up(harness, None, locale="de-CH")
    await harness.client.post(f"{API}/auth/magic-link", json={"email": email})
    await harness.settle()
    message = harness.mailbox.to(email)[-1]
    assert message.subject == SUBJECTS["magic_link"]["de"]
    assert "Oder geben Sie diesen Code auf der Anmeldeseite ein:" in message.text


async def test_verification_mails_leave_out_the_registrants_name(harness: Harness) -> None:
    email, _ = await sign_up(harness, None, full_name="Mallory the Stranger")
    message = harness.mailbox.to(email)[-1]
    assert "Mallory" not in message.text + message.html + message.subject
