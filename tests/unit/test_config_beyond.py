"""Settings of SPEC §7: encryption keys, passkey defaults, CAPTCHA and service URLs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import Settings

KEY_A = "Xk2pQ9vL4mN8rT1wY6zB3cF7hJ0sD5gA"
KEY_B = "Mv8nB2xQ6wE1rT5yU9iO3pA7sD4fG0hJ"


def make(**values: object) -> Settings:
    values.setdefault("SECRET_KEY", "Qw3eR5tY7uI9oP1aS2dF4gH6jK8lZ0xC")
    values.setdefault("PASSWORD_PEPPER", "Zx9cV7bN5mL3kJ1hG2fD4sA6qW8eR0tY")
    values.setdefault("DATABASE_URL", "postgresql://u@db/app")
    return Settings(_env_file=None, **values)


def test_data_encryption_keys_take_a_comma_or_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", f"{KEY_A}, {KEY_B}")
    assert make().data_encryption_keys == [KEY_A.encode(), KEY_B.encode()]
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", f'["{KEY_B}"]')
    assert make().data_encryption_keys == [KEY_B.encode()]
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", "")
    assert make().data_encryption_keys == []


def test_a_short_data_encryption_key_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", f"{KEY_A},tooshort-secret")
    with pytest.raises(ValidationError) as caught:
        make()
    assert "DATA_ENCRYPTION_KEY" in str(caught.value)
    assert "tooshort-secret" not in str(caught.value)


def test_passkey_settings_default_to_the_frontend() -> None:
    settings = make(FRONTEND_BASE_URL="https://app.example.com:8443")
    assert settings.webauthn_rp_id == "app.example.com"
    assert settings.webauthn_origins == ["https://app.example.com:8443"]
    custom = make(WEBAUTHN_RP_ID="example.com", WEBAUTHN_ORIGINS="https://a.example.com/")
    assert custom.webauthn_rp_id == "example.com"
    assert custom.webauthn_origins == ["https://a.example.com"]


def test_a_captcha_provider_needs_its_secret() -> None:
    with pytest.raises(ValidationError, match="CAPTCHA_SECRET"):
        make(CAPTCHA_PROVIDER="turnstile")
    assert make(CAPTCHA_PROVIDER="hcaptcha", CAPTCHA_SECRET="0x" + "a" * 40).CAPTCHA_PROVIDER


@pytest.mark.parametrize("name", ["HIBP_API_URL", "CAPTCHA_VERIFY_URL"])
def test_service_urls_must_be_http(name: str) -> None:
    with pytest.raises(ValidationError):
        make(**{name: "file:///etc/passwd"})
    assert getattr(make(**{name: "http://127.0.0.1:9/x/"}), name) == "http://127.0.0.1:9/x"
