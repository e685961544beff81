"""Settings: every knob of SPEC §3, read from the environment and `.env`, validated once."""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import secrets
from datetime import timedelta
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

EMBEDDED_DATABASE_URL = "sqlite+aiosqlite:///./data/app.db"
MIN_SECRET_LENGTH = 32
# A random key of 32 hex digits has fewer than 8 distinct characters about once in
# a million; `aaaa...` or `abab...` has one or two.
MIN_DISTINCT_CHARACTERS = 8
SECRET_NAMES = ("SECRET_KEY", "PASSWORD_PEPPER")
# The drivers installed with the service; anything else fails at the first query.
SUPPORTED_DATABASES = ("postgresql+psycopg", "sqlite+aiosqlite")
# Placeholders that appear in examples and tutorials; never acceptable as real keys.
EXAMPLE_SECRETS = frozenset(
    {
        "changeme",
        "change-me",
        "change-this",
        "secret",
        "secret-key",
        "your-secret-key",
        "your-secret-key-here",
        "supersecret",
        "replace-me-with-at-least-32-random-characters",
        "replace-me-with-a-different-32-random-characters",
    }
)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
CAPTCHA_VERIFY_URLS = {
    "turnstile": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
    "hcaptcha": "https://api.hcaptcha.com/siteverify",
}


def _split_list(value: Any) -> Any:
    """Accept a JSON list or a comma-separated list for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


def _normalise_database_url(url: str) -> str:
    """Map plain driver URLs onto the async drivers this service uses."""
    for plain, async_scheme in (
        ("postgres://", "postgresql+psycopg://"),
        ("postgresql://", "postgresql+psycopg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            url = async_scheme + url[len(plain) :]
            break
    try:
        driver = make_url(url).drivername
    except ArgumentError:
        raise ValueError(
            "not a database URL; expected postgresql+psycopg://user:password@host:5432/db "
            "or sqlite+aiosqlite:///path/to/file.db"
        ) from None
    if driver not in SUPPORTED_DATABASES:
        raise ValueError(
            f"unsupported database scheme {driver}://: this service runs on PostgreSQL "
            "(postgresql+psycopg://, postgresql:// or postgres://) or SQLite "
            "(sqlite+aiosqlite:// or sqlite://)"
        )
    return url


class Settings(BaseSettings):
    """Application settings. Names are part of the public contract (SPEC §3)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    # Storage
    DATABASE_URL: str | None = None
    REDIS_URL: str | None = None
    REDIS_KEY_PREFIX: str = "auth"
    # Connections each worker keeps; the pool never opens more (no overflow).
    DATABASE_POOL_SIZE: int = Field(default=20, ge=1, le=1000)

    # Tokens
    SECRET_KEY: SecretStr | None = None
    PASSWORD_PEPPER: SecretStr | None = None
    # HMAC with SECRET_KEY, or an asymmetric key set in the database (SPEC §7.3).
    ALGORITHM: Literal["HS256", "HS384", "HS512", "ES256", "EdDSA", "RS256"] = "HS256"
    ACCESS_TOKEN_EXPIRE_MINUTES: int = Field(default=30, gt=0, le=24 * 60)
    REFRESH_TOKEN_EXPIRE_MINUTES: int = Field(default=10080, gt=0)
    VERIFY_TOKEN_EXPIRE_MINUTES: int = Field(default=1440, gt=0)
    RESET_TOKEN_EXPIRE_MINUTES: int = Field(default=60, gt=0)
    BCRYPT_ROUNDS: int = Field(default=12, ge=4, le=31)

    # OAuth providers
    GOOGLE_CLIENT_ID: str | None = None
    GOOGLE_CLIENT_SECRET: SecretStr | None = None
    GITHUB_CLIENT_ID: str | None = None
    GITHUB_CLIENT_SECRET: SecretStr | None = None
    GOOGLE_AUTHORIZE_URL: str = "https://accounts.google.com/o/oauth2/v2/auth"
    GOOGLE_TOKEN_URL: str = "https://oauth2.googleapis.com/token"
    GOOGLE_USERINFO_URL: str = "https://openidconnect.googleapis.com/v1/userinfo"
    GITHUB_AUTHORIZE_URL: str = "https://github.com/login/oauth/authorize"
    GITHUB_TOKEN_URL: str = "https://github.com/login/oauth/access_token"
    GITHUB_API_URL: str = "https://api.github.com"

    # Email
    EMAIL_BACKEND: Literal["console", "smtp", "resend"] | None = None
    RESEND_API_KEY: SecretStr | None = None
    RESEND_API_URL: str = "https://api.resend.com"
    FROM_EMAIL: str = "Auth <no-reply@example.com>"
    SMTP_HOST: str = "localhost"
    SMTP_PORT: int = Field(default=587, gt=0, lt=65536)
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: SecretStr | None = None
    SMTP_STARTTLS: bool = True

    # Behaviour
    DEBUG: bool = False
    TESTING: bool = False
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    LOG_FORMAT: Literal["json", "console"] | None = None
    RATE_LIMIT_PER_MINUTE: int = Field(default=60, gt=0)
    AUTH_RATE_LIMIT_PER_MINUTE: int = Field(default=10, gt=0)
    ACCOUNT_LOCKOUT_THRESHOLD: int = Field(default=5, gt=0)
    ACCOUNT_LOCKOUT_DURATION_MINUTES: float = Field(default=30, gt=0)
    BACKEND_CORS_ORIGINS: Annotated[list[str], NoDecode] = []
    TRUSTED_PROXIES: Annotated[list[str], NoDecode] = []
    FRONTEND_BASE_URL: str = "http://localhost:3000"
    BACKEND_BASE_URL: str = "http://localhost:8000"
    FIRST_ADMIN_EMAIL: str | None = None
    FIRST_ADMIN_PASSWORD: SecretStr | None = None

    # Operations
    SLOW_QUERY_MS: float = Field(default=200, gt=0)

    # Beyond the seed (SPEC §7)
    APP_NAME: str = Field(default="Auth backend", min_length=1, max_length=64)
    # Keys of the data encrypted at rest; unset: derived from PASSWORD_PEPPER.
    DATA_ENCRYPTION_KEY: Annotated[list[SecretStr], NoDecode] = []
    WEBAUTHN_RP_ID: str | None = None
    WEBAUTHN_ORIGINS: Annotated[list[str], NoDecode] = []
    REFRESH_TOKEN_REUSE_INTERVAL_SECONDS: int = Field(default=0, ge=0, le=300)
    SESSION_IDLE_TIMEOUT_MINUTES: int = Field(default=0, ge=0)
    REFRESH_TOKEN_TRANSPORT: Literal["body", "cookie", "both"] = "body"
    MAGIC_LINK_EXPIRE_MINUTES: int = Field(default=15, gt=0, le=24 * 60)
    PASSWORD_BREACH_CHECK: bool = True
    HIBP_API_URL: str = "https://api.pwnedpasswords.com"
    CAPTCHA_PROVIDER: Literal["turnstile", "hcaptcha"] | None = None
    CAPTCHA_SECRET: SecretStr | None = None
    CAPTCHA_VERIFY_URL: str | None = None
    WEBHOOK_RETRY_BASE_SECONDS: float = Field(default=5, gt=0)
    WEBHOOK_MAX_ATTEMPTS: int = Field(default=8, ge=1, le=50)
    WEBHOOK_ALLOW_PRIVATE_URLS: bool = False

    @field_validator(
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "PASSWORD_PEPPER",
        "GOOGLE_CLIENT_ID",
        "GOOGLE_CLIENT_SECRET",
        "GITHUB_CLIENT_ID",
        "GITHUB_CLIENT_SECRET",
        "EMAIL_BACKEND",
        "RESEND_API_KEY",
        "SMTP_USERNAME",
        "SMTP_PASSWORD",
        "LOG_FORMAT",
        "FIRST_ADMIN_EMAIL",
        "FIRST_ADMIN_PASSWORD",
        "WEBAUTHN_RP_ID",
        "CAPTCHA_PROVIDER",
        "CAPTCHA_SECRET",
        "CAPTCHA_VERIFY_URL",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # `NAME=` in a .env file means "not set", not "set to the empty string".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator(
        "BACKEND_CORS_ORIGINS",
        "TRUSTED_PROXIES",
        "WEBAUTHN_ORIGINS",
        "DATA_ENCRYPTION_KEY",
        mode="before",
    )
    @classmethod
    def _parse_list(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("BACKEND_CORS_ORIGINS", "WEBAUTHN_ORIGINS")
    @classmethod
    def _strip_origins(cls, value: list[str]) -> list[str]:
        return [origin.rstrip("/") for origin in value]

    @field_validator("HIBP_API_URL", "CAPTCHA_VERIFY_URL")
    @classmethod
    def _check_service_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/") if value else value

    @field_validator("TRUSTED_PROXIES")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)  # raises ValueError on junk
        return value

    @field_validator("FRONTEND_BASE_URL", "BACKEND_BASE_URL")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("DATABASE_URL")
    @classmethod
    def _normalise_db(cls, value: str | None) -> str | None:
        return _normalise_database_url(value) if value else None

    @model_validator(mode="wrap")
    @classmethod
    def _report_every_problem(cls, data: Any, handler: Any) -> Any:
        """Whole-model checks (keys, email, CAPTCHA) reported together with the field errors.

        Pydantic collects every field error but then skips the model's own checks;
        an operator would fix one problem per start. Here a failed field
        validation still gets the key checks on the values given, and all
        problems are raised at once.
        """
        try:
            settings: Settings = handler(data)
        except ValidationError as exc:
            problems = _given_secret_problems(data)
            if not problems:
                raise
            errors = [_keep(error) for error in exc.errors()]
            raise ValidationError.from_exception_data(
                cls.__name__, [*errors, *map(_problem, problems)]
            ) from None
        problems = settings._whole_model_problems()
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, list(map(_problem, problems)))
        return settings

    def _whole_model_problems(self) -> list[str]:
        problems: list[str] = []
        if self.EMAIL_BACKEND == "resend" and self.RESEND_API_KEY is None:
            problems.append("EMAIL_BACKEND=resend needs RESEND_API_KEY")
        if self.CAPTCHA_PROVIDER and self.CAPTCHA_SECRET is None:
            problems.append("CAPTCHA_PROVIDER needs CAPTCHA_SECRET")
        # After validation, so a message never quotes the keys themselves.
        if any(len(k.get_secret_value()) < MIN_SECRET_LENGTH for k in self.DATA_ENCRYPTION_KEY):
            problems.append(
                f"DATA_ENCRYPTION_KEY: every key must be at least "
                f"{MIN_SECRET_LENGTH} random characters"
            )
        for name in SECRET_NAMES:
            current: SecretStr | None = getattr(self, name)
            if current is None and (self.embedded or self.DEBUG):
                # Persist the generated key so tokens and passwords survive a restart.
                current = SecretStr(_persisted_secret(self.data_dir / name.lower()))
                object.__setattr__(self, name, current)
        if not self.DEBUG:  # DEBUG tolerates weak keys (and generated any missing one)
            problems += secret_problems(self.SECRET_KEY, self.PASSWORD_PEPPER)
        return problems

    # Derived values -------------------------------------------------------

    @property
    def embedded(self) -> bool:
        """True when no database is configured: SQLite file under ./data."""
        return self.DATABASE_URL is None

    @property
    def database_url(self) -> str:
        return self.DATABASE_URL or EMBEDDED_DATABASE_URL

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def data_dir(self) -> Path:
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(str(url.database)).parent
        return Path("data")

    @property
    def email_backend(self) -> str:
        if self.EMAIL_BACKEND:
            return self.EMAIL_BACKEND
        return "resend" if self.RESEND_API_KEY else "console"

    @property
    def log_format(self) -> str:
        return self.LOG_FORMAT or ("console" if self.DEBUG else "json")

    @property
    def lockout_duration(self) -> timedelta:
        minutes = self.ACCOUNT_LOCKOUT_DURATION_MINUTES
        return timedelta(minutes=min(minutes, 1.0) if self.DEBUG else minutes)

    @property
    def access_token_ttl(self) -> timedelta:
        return timedelta(minutes=self.ACCESS_TOKEN_EXPIRE_MINUTES)

    @property
    def refresh_token_ttl(self) -> timedelta:
        return timedelta(minutes=self.REFRESH_TOKEN_EXPIRE_MINUTES)

    @property
    def refresh_cookie_enabled(self) -> bool:
        """`cookie` or `both`: token-pair answers also set the refresh cookie (§7.6)."""
        return self.REFRESH_TOKEN_TRANSPORT in ("cookie", "both")

    @property
    def refresh_token_in_body(self) -> bool:
        """`body` or `both`: the JSON `TokenPair` carries the refresh token."""
        return self.REFRESH_TOKEN_TRANSPORT in ("body", "both")

    @cached_property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return tuple(ipaddress.ip_network(item, strict=False) for item in self.TRUSTED_PROXIES)

    @property
    def webauthn_rp_id(self) -> str:
        """The WebAuthn relying party id: the frontend's host unless set."""
        return self.WEBAUTHN_RP_ID or str(urlsplit(self.FRONTEND_BASE_URL).hostname)

    @property
    def webauthn_origins(self) -> list[str]:
        """Origins a passkey ceremony may come from: the frontend's unless set."""
        if self.WEBAUTHN_ORIGINS:
            return self.WEBAUTHN_ORIGINS
        parts = urlsplit(self.FRONTEND_BASE_URL)
        return [f"{parts.scheme}://{parts.netloc}"]

    @property
    def captcha_verify_url(self) -> str | None:
        """Where CAPTCHA tokens are checked: CAPTCHA_VERIFY_URL, else the provider's; None: off."""
        if self.CAPTCHA_PROVIDER is None:
            return None
        return self.CAPTCHA_VERIFY_URL or CAPTCHA_VERIFY_URLS[self.CAPTCHA_PROVIDER]

    @property
    def data_encryption_keys(self) -> list[bytes]:
        """Key material for data encrypted at rest, the encrypting key first."""
        return [key.get_secret_value().encode() for key in self.DATA_ENCRYPTION_KEY]

    @property
    def secret_key(self) -> bytes:
        return _required(self.SECRET_KEY, "SECRET_KEY")

    @property
    def password_pepper(self) -> bytes:
        return _required(self.PASSWORD_PEPPER, "PASSWORD_PEPPER")


def _required(value: SecretStr | None, name: str) -> bytes:
    if value is None:  # the validator fills or refuses every secret
        raise RuntimeError(f"{name} is not set")
    return value.get_secret_value().encode()


def secret_problems(secret_key: SecretStr | None, pepper: SecretStr | None) -> list[str]:
    """Every reason production refuses this pair of keys, one line each."""
    problems = [
        problem
        for name, value in zip(SECRET_NAMES, (secret_key, pepper), strict=True)
        if (problem := _secret_problem(name, value)) is not None
    ]
    if (
        secret_key is not None
        and pepper is not None
        and hmac.compare_digest(
            secret_key.get_secret_value().encode(), pepper.get_secret_value().encode()
        )
    ):
        problems.append("SECRET_KEY and PASSWORD_PEPPER must be two different random values")
    return problems


def _secret_problem(name: str, value: SecretStr | None) -> str | None:
    if value is None:
        return f"{name} is required (at least {MIN_SECRET_LENGTH} random characters)"
    raw = value.get_secret_value()
    if len(raw) < MIN_SECRET_LENGTH:
        return f"{name} must be at least {MIN_SECRET_LENGTH} characters long"
    if raw.strip().lower() in EXAMPLE_SECRETS:
        return f"{name} is an example value; generate a random one"
    if len(set(raw)) < MIN_DISTINCT_CHARACTERS:
        return (
            f"{name} has too few distinct characters (at least {MIN_DISTINCT_CHARACTERS}); "
            "generate a random one, e.g. `openssl rand -base64 48`"
        )
    return None


def _given_secret_problems(data: Any) -> list[str]:
    """Key problems in raw input whose other fields failed to validate: only keys that were
    given (a missing one may still be generated), and none with a DEBUG that says true."""
    if not isinstance(data, dict):
        return []
    debug = str(data.get("DEBUG", "")).strip().lower()
    if debug in ("1", "true", "yes", "on", "t", "y"):
        return []
    given = [_as_secret(data.get(name)) for name in SECRET_NAMES]
    problems = secret_problems(*given)
    missing = {name for name, value in zip(SECRET_NAMES, given, strict=True) if value is None}
    return [p for p in problems if not any(p.startswith(f"{name} is required") for name in missing)]


def _as_secret(value: Any) -> SecretStr | None:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return SecretStr(value) if isinstance(value, str) and value.strip() else None


def _problem(message: str) -> InitErrorDetails:
    # No location: the message names its settings (`error: SECRET_KEY ...`).
    return {"type": PydanticCustomError("invalid_settings", message), "loc": (), "input": None}


def _keep(error: Any) -> InitErrorDetails:
    """A field error as it was, to be raised again beside the whole-model problems."""
    # Without a context, a custom error's message is used as written (braces included).
    return {
        "type": PydanticCustomError(str(error["type"]), str(error["msg"])),
        "loc": tuple(error["loc"]),
        "input": error.get("input"),
    }


def _persisted_secret(path: Path) -> str:
    """Read a generated secret from `path`, creating it (mode 0600) on first use."""
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    # O_EXCL: when several workers start at once, only one writes; the others read it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
