"""Health probes."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.services.context import ServiceContext

PROBE_TIMEOUT_SECONDS = 2.0


async def database_ok(ctx: ServiceContext) -> bool:
    """True when the database answers `SELECT 1` within the probe timeout."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            async with ctx.sessionmaker() as db:
                connection = await db.connection()
                await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError):
        return False
    return True
