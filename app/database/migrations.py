"""Running Alembic from code: `backend migrate`, `backend serve` (embedded) and tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from alembic import command
from app.config import Settings
from app.database.connection import create_engine


def _find_alembic_ini() -> Path:
    # A source checkout keeps it beside the package; an installed copy runs from
    # a directory holding alembic.ini and alembic/ (the container's workdir).
    beside_source = Path(__file__).resolve().parents[2] / "alembic.ini"
    return beside_source if beside_source.exists() else Path.cwd() / "alembic.ini"


ALEMBIC_INI = _find_alembic_ini()
# Any constant: concurrent `migrate` runs on one PostgreSQL take turns on it.
ADVISORY_LOCK_ID = 0x61757468  # "auth"


def alembic_config(settings: Settings) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.attributes["settings"] = settings
    config.attributes["configure_logger"] = False
    return config


def _run(connection: Connection, settings: Settings, action: str, revision: str) -> None:
    config = alembic_config(settings)
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


async def _migrate(settings: Settings, action: str, revision: str) -> None:
    engine = create_engine(settings, pool_pre_ping=False)
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_lock(:id)"), {"id": ADVISORY_LOCK_ID}
                )
                await connection.commit()
            await connection.run_sync(_run, settings, action, revision)
            await connection.commit()
    finally:
        await engine.dispose()


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the schema to `revision` (blocking; call outside any event loop)."""
    asyncio.run(_migrate(settings, "upgrade", revision))


def downgrade(settings: Settings, revision: str) -> None:
    asyncio.run(_migrate(settings, "downgrade", revision))
