"""Running Alembic from code: `backend migrate`, `backend serve` (embedded) and tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
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
VERSION_TABLE = "alembic_version"  # alembic's default; alembic/env.py keeps it


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


async def upgrade_async(settings: Settings, revision: str = "head") -> None:
    """Bring the schema to `revision`, from inside a running event loop."""
    await _migrate(settings, "upgrade", revision)


async def downgrade_async(settings: Settings, revision: str) -> None:
    await _migrate(settings, "downgrade", revision)


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the schema to `revision` (blocking; call outside any event loop).

    Code already in an event loop awaits `upgrade_async` instead: running this
    in a worker thread leaves that thread with greenlets (SQLAlchemy's async
    bridge) whose teardown, when the thread ends, can spin forever under a
    greenlet-aware tracer such as coverage's.
    """
    asyncio.run(upgrade_async(settings, revision))


def downgrade(settings: Settings, revision: str) -> None:
    asyncio.run(downgrade_async(settings, revision))


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Where a database's schema stands against the migrations this code ships."""

    status: Literal["current", "behind", "ahead"]
    database: tuple[str, ...]  # revisions recorded in the database (none: never migrated)
    code: tuple[str, ...]  # this code's head revisions

    @property
    def message(self) -> str:
        """One line for the operator."""
        at = ", ".join(self.database) or "no revision (never migrated)"
        wants = ", ".join(self.code)
        if self.status == "behind":
            return (
                f"database schema is behind: at {at}, this version needs {wants}; "
                "run `backend migrate`"
            )
        if self.status == "ahead":
            return (
                f"database schema is newer than this version: at {at}, "
                f"this version knows up to {wants}"
            )
        return f"database schema is at {wants}"


@lru_cache(maxsize=1)
def code_revisions() -> tuple[frozenset[str], tuple[str, ...]]:
    """Every revision this code ships, and its heads (read once: the files do not change)."""
    script = ScriptDirectory.from_config(Config(str(ALEMBIC_INI)))
    known = frozenset(revision.revision for revision in script.walk_revisions())
    return known, tuple(sorted(script.get_heads()))


def schema_state(connection: Connection) -> SchemaState:
    """Compare the database's recorded revisions with this code's (for `run_sync`).

    A revision this code does not know was written by a newer release (a
    rolling deploy migrates before the last old instance stops): `ahead`.
    """
    known, heads = code_revisions()
    current: tuple[str, ...] = ()
    # Read directly: alembic's MigrationContext would log two lines per probe.
    if inspect(connection).has_table(VERSION_TABLE):
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))  # noqa: S608
        current = tuple(sorted(rows.scalars()))
    if current == heads:
        status: Literal["current", "behind", "ahead"] = "current"
    elif any(revision not in known for revision in current):
        status = "ahead"
    else:
        status = "behind"
    return SchemaState(status=status, database=current, code=heads)


async def read_schema_state(settings: Settings) -> SchemaState:
    """The schema state over a connection of its own (the CLI, before serving)."""
    engine = create_engine(settings, pool_pre_ping=False)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(schema_state)
    finally:
        await engine.dispose()
