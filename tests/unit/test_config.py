"""Settings: list parsing, URL normalisation, production key checks, embedded key files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings

GOOD = "config-test-secret-key-0123456789abcdef"
GOOD_PEPPER = "config-test-pepper-0123456789abcdef"


def make(**values: object) -> Settings:
    values.setdefault("SECRET_KEY", GOOD)
    values.setdefault("PASSWORD_PEPPER", GOOD_PEPPER)
    values.setdefault("DATABASE_URL", "postgresql://u@db/app")
    return Settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('["https://a.example","https://b.example/"]', ["https://a.example", "https://b.example"]),
        ("https://a.example, https://b.example", ["https://a.example", "https://b.example"]),
        ("", []),
    ],
)
def test_cors_origins_accept_json_or_comma_lists(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str]
) -> None:
    monkeypatch.setenv("BACKEND_CORS_ORIGINS", raw)
    assert make().BACKEND_CORS_ORIGINS == expected


def test_trusted_proxies_parse_and_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8,192.168.1.1")
    networks = make().trusted_proxy_networks
    assert [str(n) for n in networks] == ["10.0.0.0/8", "192.168.1.1/32"]
    monkeypatch.setenv("TRUSTED_PROXIES", "not-an-ip")
    with pytest.raises(ValidationError):
        make()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
    ],
)
def test_database_urls_are_mapped_to_async_drivers(url: str, expected: str) -> None:
    assert make(DATABASE_URL=url).database_url == expected


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (None, "SECRET_KEY is required"),
        ("short", "at least 32"),
        ("changeme", "at least 32"),
        ("replace-me-with-at-least-32-random-characters", "example value"),
    ],
)
def test_production_refuses_bad_secret_keys(key: str | None, message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        make(SECRET_KEY=key)
    assert message in str(excinfo.value)
    assert "SECRET_KEY" in str(excinfo.value)


@pytest.mark.parametrize("name", ["SECRET_KEY", "PASSWORD_PEPPER"])
@pytest.mark.parametrize("value", ["a" * 36, "ab" * 20, "0123456" * 6])
def test_production_refuses_keys_with_too_few_distinct_characters(name: str, value: str) -> None:
    with pytest.raises(ValidationError, match=f"{name} has too few distinct characters"):
        make(**{name: value})


def test_production_refuses_one_value_for_both_keys() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY and PASSWORD_PEPPER must be two"):
        make(SECRET_KEY=GOOD, PASSWORD_PEPPER=GOOD)
    assert make(SECRET_KEY=GOOD, PASSWORD_PEPPER=GOOD, DEBUG=True).DEBUG


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as excinfo:
        make(ALGORITHM="none", SECRET_KEY="x" * 40, PASSWORD_PEPPER="short")
    messages = {".".join(map(str, error["loc"])): error["msg"] for error in excinfo.value.errors()}
    assert set(messages) == {"ALGORITHM", ""} and len(excinfo.value.errors()) == 3
    reported = " | ".join(error["msg"] for error in excinfo.value.errors())
    assert "SECRET_KEY has too few distinct characters" in reported
    assert "PASSWORD_PEPPER must be at least 32 characters long" in reported
    # Whole-model problems together, also when every field is valid.
    with pytest.raises(ValidationError) as excinfo:
        make(EMAIL_BACKEND="resend", SECRET_KEY="x" * 40, PASSWORD_PEPPER="x" * 40)
    assert len(excinfo.value.errors()) == 4


def test_field_errors_alone_are_not_joined_by_key_checks_of_generated_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError) as excinfo:
        Settings(_env_file=None, ALGORITHM="none")  # embedded: keys would be generated
    assert [error["loc"] for error in excinfo.value.errors()] == [("ALGORITHM",)]


@pytest.mark.parametrize("level", ["debug", "Info", " WARNING "])
def test_log_level_in_any_case(level: str) -> None:
    assert make(LOG_LEVEL=level).LOG_LEVEL == level.strip().upper()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "unsupported database scheme mysql://"),
        ("postgresql+asyncpg://u@h/db", "unsupported database scheme postgresql+asyncpg://"),
        ("not a url", "not a database URL"),
    ],
)
def test_unsupported_database_urls_name_the_supported_schemes(url: str, message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        make(DATABASE_URL=url)
    text = str(excinfo.value)
    assert message in text and "postgresql+psycopg://" in text and "sqlite" in text


def test_pepper_is_checked_like_the_secret_key() -> None:
    with pytest.raises(ValidationError, match="PASSWORD_PEPPER"):
        make(PASSWORD_PEPPER="tiny")


def test_debug_tolerates_short_keys() -> None:
    assert make(SECRET_KEY="short", DEBUG=True).secret_key == b"short"


def test_embedded_mode_generates_and_persists_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = Settings(_env_file=None)
    assert first.embedded and first.database_url == "sqlite+aiosqlite:///./data/app.db"
    key_file = tmp_path / "data" / "secret_key"
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert len(first.secret_key) >= 32 and first.secret_key != first.password_pepper
    second = Settings(_env_file=None)
    assert second.secret_key == first.secret_key
    assert second.password_pepper == first.password_pepper


def test_lockout_duration_accepts_fractions_and_is_capped_in_debug() -> None:
    assert make(ACCOUNT_LOCKOUT_DURATION_MINUTES=0.1).lockout_duration == timedelta(seconds=6)
    assert make(ACCOUNT_LOCKOUT_DURATION_MINUTES=30, DEBUG=True).lockout_duration == timedelta(
        minutes=1
    )


def test_email_backend_defaults() -> None:
    assert make().email_backend == "console"
    assert make(RESEND_API_KEY="re_123").email_backend == "resend"
    assert make(RESEND_API_KEY="re_123", EMAIL_BACKEND="smtp").email_backend == "smtp"


def test_base_urls_must_be_http_and_lose_trailing_slash() -> None:
    assert make(FRONTEND_BASE_URL="https://app.example/").FRONTEND_BASE_URL == (
        "https://app.example"
    )
    with pytest.raises(ValidationError):
        make(FRONTEND_BASE_URL="javascript:alert(1)")


def test_blank_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "RESEND_API_KEY",
        "EMAIL_BACKEND",
        "SMTP_USERNAME",
        "GOOGLE_CLIENT_ID",
        "REDIS_URL",
    ):
        monkeypatch.setenv(name, "")
    settings = make()
    assert settings.RESEND_API_KEY is None and settings.email_backend == "console"
    assert settings.SMTP_USERNAME is None and settings.REDIS_URL is None


def test_resend_backend_needs_a_key() -> None:
    with pytest.raises(ValidationError, match="RESEND_API_KEY"):
        make(EMAIL_BACKEND="resend")


def test_the_example_env_file_lists_every_setting(repo_root: Path) -> None:
    example = (repo_root / ".env.example").read_text()
    names = {
        line.split("=", 1)[0]
        for line in example.splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert names == set(Settings.model_fields)
    settings = Settings(
        _env_file=repo_root / ".env.example", SECRET_KEY=GOOD, PASSWORD_PEPPER=GOOD_PEPPER
    )
    assert settings.DATABASE_URL == "postgresql+psycopg://auth:auth@localhost:5432/auth"


def test_the_example_keys_are_refused(repo_root: Path) -> None:
    with pytest.raises(ValidationError, match="example value"):
        Settings(_env_file=repo_root / ".env.example")
