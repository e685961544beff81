"""A lock shared by every process on one database, held until the transaction ends."""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession


def _advisory_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def lock_transaction(db: AsyncSession, name: str) -> None:
    """Wait until no other transaction holds `name`, then hold it until commit or rollback.

    Call it first in a fresh session. PostgreSQL takes an advisory transaction
    lock on `name`; SQLite has a single writer, so its transaction starts as a
    write (`BEGIN IMMEDIATE`) and every such caller takes turns, whatever the
    name. Either way, what the holder committed is visible to the next holder.
    """
    connection = await db.connection()
    if connection.dialect.name == "postgresql":
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _advisory_key(name)}
        )
    else:
        await connection.exec_driver_sql("BEGIN IMMEDIATE")
