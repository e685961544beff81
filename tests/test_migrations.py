"""The migrations build exactly the schema the models describe, and unwind to nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from app.database.connection import create_engine
from app.database.migrations import downgrade, upgrade
from tests.conftest import base_settings


def _inspect(url: str) -> tuple[list[Any], list[str]]:
    def work(connection: Connection) -> tuple[list[Any], list[str]]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
        tables = sorted(sa.inspect(connection).get_table_names())
        return diff, tables

    async def run() -> tuple[list[Any], list[str]]:
        engine = create_engine(base_settings(url))
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_upgrade_matches_models_and_downgrade_unwinds(scratch_database_url: str) -> None:
    settings = base_settings(scratch_database_url)
    upgrade(settings)
    diff, tables = _inspect(scratch_database_url)
    assert diff == []
    assert set(tables) >= {t.name for t in SQLModel.metadata.sorted_tables}
    downgrade(settings, "base")
    diff, tables = _inspect(scratch_database_url)
    assert tables == ["alembic_version"]
    upgrade(settings)  # and back up again
    assert _inspect(scratch_database_url)[0] == []
