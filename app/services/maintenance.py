"""`backend prune`: keep the tables from growing without bound. Safe to run from cron."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from app.repositories import maintenance
from app.repositories.webhooks import delete_old_deliveries
from app.services.context import ServiceContext

BATCH = 5_000


@dataclass(frozen=True, slots=True)
class PruneReport:
    tokens: int
    sessions: int
    audit_rows: int
    deliveries: int = 0


async def _drain(
    ctx: ServiceContext, step: Callable[[AsyncSession, datetime, int], Awaitable[int]], at: datetime
) -> int:
    """Run one delete batch per transaction until nothing is left."""
    total = 0
    while True:
        async with ctx.sessionmaker() as db:
            removed = await step(db, at, BATCH)
            await db.commit()
        total += removed
        if removed < BATCH:
            return total


async def prune(
    ctx: ServiceContext,
    *,
    session_days: float,
    audit_days: float,
    delivery_days: float = 30,
) -> PruneReport:
    """Delete expired one-time tokens, sessions dead for `session_days`, audit rows
    older than `audit_days`, and finished (delivered or failed) webhook deliveries
    older than `delivery_days`. Idempotent; each batch is its own transaction."""
    now = ctx.clock.now()
    return PruneReport(
        tokens=await _drain(ctx, maintenance.delete_expired_tokens, now),
        sessions=await _drain(
            ctx, maintenance.delete_dead_sessions, now - timedelta(days=session_days)
        ),
        audit_rows=await _drain(
            ctx, maintenance.delete_old_audit, now - timedelta(days=audit_days)
        ),
        deliveries=await _drain(ctx, delete_old_deliveries, now - timedelta(days=delivery_days)),
    )
