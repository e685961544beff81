"""Builds and tears down what the services share: engine, store, HTTP client, hasher."""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import structlog

from app.cache.base import Store
from app.cache.cache import Cache
from app.cache.factory import build_redis, build_store
from app.cache.resilient import RedisHealth
from app.config import Settings
from app.core import metrics
from app.core.background import BackgroundRunner
from app.core.clock import Clock, SystemClock
from app.core.crypto import cipher_from_keys
from app.core.jwt import AccessTokenCodec
from app.core.keyring import KeyRing
from app.core.ratelimit import RateLimiter
from app.core.security import PasswordHasher
from app.database.connection import create_engine, create_sessionmaker, sqlite_writer
from app.database.monitoring import DatabaseMonitor
from app.email.base import EmailSender
from app.email.factory import build_email_sender
from app.services.breach import BreachCheck
from app.services.context import ServiceContext
from app.services.principals import PrincipalCache

log = structlog.get_logger(__name__)
SHUTDOWN_GRACE_SECONDS = 10.0
OUTBOUND_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS settings, loaded once per process (reading the CA
    bundle takes tens of milliseconds; a context is safe to share)."""
    return httpx.create_ssl_context()


@asynccontextmanager
async def open_context(
    settings: Settings,
    *,
    clock: Clock | None = None,
    email_sender: EmailSender | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
    store: Store | None = None,
    email_retry_delay: float = 1.0,
) -> AsyncIterator[ServiceContext]:
    """Yield a ServiceContext; on exit, let background jobs finish, then close everything."""
    clock = clock or SystemClock()
    engine = create_engine(settings)
    monitor = DatabaseMonitor(engine, slow_threshold_ms=settings.SLOW_QUERY_MS)
    monitor.install()
    # One Redis pool and one view of its health, shared by the store and the limiter.
    redis = build_redis(settings)
    redis_health = RedisHealth()
    store = store or build_store(settings, redis, redis_health)
    cache = Cache(store)
    principals = PrincipalCache(cache, clock, health=redis_health)
    # Deletes made while Redis was away never reached it: drop what it may still hold.
    redis_health.on_recover.append(principals.drop_shared)
    keyring = KeyRing(settings.ALGORITHM)
    http = httpx.AsyncClient(
        timeout=OUTBOUND_TIMEOUT,
        follow_redirects=False,
        transport=http_transport,
        verify=_tls_context(),
    )
    ctx = ServiceContext(
        settings=settings,
        clock=clock,
        hasher=PasswordHasher(pepper=settings.password_pepper, rounds=settings.BCRYPT_ROUNDS),
        access_tokens=AccessTokenCodec(
            key=settings.secret_key,
            algorithm=settings.ALGORITHM,
            issuer=settings.BACKEND_BASE_URL,
            ttl=settings.access_token_ttl,
            clock=clock,
            keyring=keyring,
        ),
        store=store,
        limiter=RateLimiter(redis=redis, prefix=settings.REDIS_KEY_PREFIX, health=redis_health),
        redis_health=redis_health if redis is not None else None,
        background=BackgroundRunner(),
        email_sender=email_sender or build_email_sender(settings, http),
        http=http,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        cache=cache,
        principals=principals,
        db_monitor=monitor,
        cipher=cipher_from_keys(settings.data_encryption_keys, settings.password_pepper),
        breach_check=BreachCheck(settings, http, clock),
        keyring=keyring,
        sqlite_writer=sqlite_writer(settings),
        email_retry_delay=email_retry_delay,
    )
    try:
        yield ctx
    finally:
        await ctx.background.shutdown(SHUTDOWN_GRACE_SECONDS)
        ctx.hasher.close()
        await http.aclose()
        await ctx.store.close()
        if redis is not None:
            await redis.aclose()
        if ctx.sqlite_writer is not None:
            ctx.sqlite_writer.close()
        await engine.dispose()
        monitor.remove()
        metrics.process_stopped()
