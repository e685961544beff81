"""The environment a CLI test runs `backend ...` in."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.database.migrations import upgrade
from tests.conftest import TEST_PEPPER, TEST_SECRET_KEY, base_settings


def cli_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, **extra: str
) -> dict[str, str]:
    """Migrate `database_url`, work from `tmp_path`, and set the variables the CLI reads
    (the defaults below, then `extra`). Returns what was set."""
    upgrade(base_settings(database_url))
    values = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "PASSWORD_PEPPER": TEST_PEPPER,
        "BCRYPT_ROUNDS": "4",
        **extra,
    }
    monkeypatch.chdir(tmp_path)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values
