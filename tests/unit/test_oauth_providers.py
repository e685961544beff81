"""Pure parts of the provider clients: PKCE, email choice, names, configuration."""

from __future__ import annotations

from typing import Any

import pytest

from app.config import Settings
from app.services.oauth.base import ProviderError, clean_name, pkce_challenge
from app.services.oauth.github import primary_email
from app.services.oauth.registry import configured_providers

SECRETS: dict[str, Any] = {
    "SECRET_KEY": "oauth-test-secret-key-0123456789abcdef",
    "PASSWORD_PEPPER": "oauth-test-pepper-0123456789abcdef",
    "DATABASE_URL": "sqlite://",
}


def test_pkce_challenge_matches_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize(
    "emails, expected",
    [
        ([{"email": "a@x.test", "primary": True, "verified": True}], ("a@x.test", True)),
        ([{"email": "a@x.test", "primary": True, "verified": False}], ("a@x.test", False)),
        ([{"email": "a@x.test", "primary": True, "verified": "true"}], ("a@x.test", False)),
        (
            [
                {"email": "b@x.test", "primary": False, "verified": True},
                {"email": "a@x.test", "primary": True, "verified": False},
            ],
            ("a@x.test", False),
        ),
        ([{"email": "b@x.test", "primary": False, "verified": True}], (None, False)),
        ([{"email": None, "primary": True, "verified": True}], (None, False)),
        (["junk", 3, None], (None, False)),
        ([], (None, False)),
    ],
)
def test_github_primary_email(emails: list[Any], expected: tuple[str | None, bool]) -> None:
    assert primary_email(emails) == expected


@pytest.mark.parametrize("emails", [{"email": "a@x.test"}, "a@x.test", None])
def test_github_email_list_must_be_a_list(emails: Any) -> None:
    with pytest.raises(ProviderError):
        primary_email(emails)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Ada Lovelace", "Ada Lovelace"),
        ("  Ada\r\nLovelace\x00 ", "AdaLovelace"),
        ("x" * 500, "x" * 200),
        # Separators and bidirectional controls go too (SPEC §6 "Hardening").
        ("Ada\u2028Love\u202elace\u2066\u2069", "AdaLovelace"),
        ("", None),
        ("\x07", None),
        (None, None),
        (42, None),
    ],
)
def test_clean_name(value: object, expected: str | None) -> None:
    assert clean_name(value) == expected


@pytest.mark.parametrize(
    "settings, expected",
    [
        ({}, []),
        ({"GOOGLE_CLIENT_ID": "id", "GOOGLE_CLIENT_SECRET": "s"}, ["google"]),
        ({"GITHUB_CLIENT_ID": "id", "GITHUB_CLIENT_SECRET": "s"}, ["github"]),
        ({"GITHUB_CLIENT_ID": "id", "GITHUB_CLIENT_SECRET": ""}, []),
        ({"GOOGLE_CLIENT_SECRET": "s"}, []),
        (
            {
                "GITHUB_CLIENT_ID": "id",
                "GITHUB_CLIENT_SECRET": "s",
                "GOOGLE_CLIENT_ID": "id",
                "GOOGLE_CLIENT_SECRET": "s",
            },
            ["google", "github"],
        ),
    ],
)
def test_only_fully_configured_providers(settings: dict[str, Any], expected: list[str]) -> None:
    values: dict[str, Any] = {**SECRETS, **settings}
    providers = configured_providers(Settings(_env_file=None, **values))

    assert list(providers) == expected
