"""What every service needs, built once in the application's lifespan."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from app.cache.base import Store
from app.cache.cache import Cache
from app.cache.resilient import RedisHealth
from app.config import Settings
from app.core.background import BackgroundRunner
from app.core.clock import Clock
from app.core.crypto import DataCipher
from app.core.jwt import AccessTokenCodec
from app.core.keyring import KeyRing
from app.core.ratelimit import RateLimiter
from app.core.security import PasswordHasher
from app.database.connection import SQLiteWriter
from app.database.monitoring import DatabaseMonitor
from app.email.base import EmailSender
from app.services.breach import BreachCheck
from app.services.principals import PrincipalCache
from app.services.readiness import ReadinessCache

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from, for audit rows and session records."""

    ip: str | None = None
    user_agent: str | None = None


@dataclass(slots=True)
class ServiceContext:
    settings: Settings
    clock: Clock
    hasher: PasswordHasher
    access_tokens: AccessTokenCodec
    store: Store
    limiter: RateLimiter
    # Whether Redis answers; shared by the store and the limiter (None without REDIS_URL).
    redis_health: RedisHealth | None
    background: BackgroundRunner
    email_sender: EmailSender
    http: httpx.AsyncClient
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    cache: Cache
    # Who is calling, cached per process (1 s) and in the shared store.
    principals: PrincipalCache
    db_monitor: DatabaseMonitor
    # Encrypts secrets stored in the database (TOTP secrets, signing keys, ...).
    cipher: DataCipher
    # New passwords against Pwned Passwords (with this process's cache and pause).
    breach_check: BreachCheck
    # The access-token key set as this worker holds it (empty with HMAC algorithms).
    keyring: KeyRing
    # SQLite: hot write transactions (refresh, webhook rounds) queue here, not on the file lock.
    sqlite_writer: SQLiteWriter | None
    # First backoff step between email retries (doubles each time).
    email_retry_delay: float = 1.0
    started_at: float = field(default_factory=time.monotonic)  # for uptime
    # /health/ready's last answer (public, unthrottled: at most one probe a second).
    readiness: ReadinessCache = field(default_factory=ReadinessCache)

    async def write(self, work: Callable[[sa.Connection], T]) -> T:
        """Run `work` as one short write transaction (committed when it returns): on a
        SQLite file, queued on the in-process writer; elsewhere on a pooled connection,
        its statements going through the async driver."""
        if self.sqlite_writer is not None:
            return await self.sqlite_writer.run(work)
        async with self.engine.begin() as connection:
            return await connection.run_sync(work)
