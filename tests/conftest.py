"""Test set-up: a real database (SQLite file, or PostgreSQL when TEST_DATABASE_URL is set)
and a real store (process memory, or Redis when TEST_REDIS_URL is set).

Each test session migrates its own database once and drops it at the end;
each test app gets its own Redis key prefix, whose keys are deleted after the
test (however the app was built); rows are removed after every test, so tests
own their data and run in any order.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from fastapi import FastAPI
from sqlalchemy import delete
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import app.models  # noqa: F401  (registers the tables)
from app.config import Settings
from app.database.migrations import upgrade
from app.main import create_app
from app.services.context import ServiceContext
from tests.support import flows
from tests.support.clock import FakeClock
from tests.support.mail import Mailbox

TEST_SECRET_KEY = "test-secret-key-0123456789abcdef-0123456789abcdef"
TEST_PEPPER = "test-pepper-0123456789abcdef-0123456789abcdef"
PEER = ("127.0.0.1", 50000)
# Nothing listens on the discard port: a breach check that a test turns on without
# pointing it at a fake fails at once, on this machine, instead of reaching out.
OFFLINE_URL = "http://127.0.0.1:9"

# The suite never reaches the internet. Settings built here turn the breach check
# off (tests of it turn it on, against a fake); processes and CLI runs the tests
# start read the environment, so it says the same.
os.environ["PASSWORD_BREACH_CHECK"] = "false"
os.environ["HIBP_API_URL"] = OFFLINE_URL

# Key prefixes given to apps on TEST_REDIS_URL during the running test.
_redis_prefixes: list[str] = []


def _admin_conninfo(url: str) -> tuple[str, str]:
    """A libpq URL for the server's maintenance database, and the server URL's base."""
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database=parsed.database or "postgres")
    return admin.render_as_string(hide_password=False), parsed.render_as_string(hide_password=False)


@contextmanager
def empty_database(directory: Path) -> Iterator[str]:
    """A new, empty database: a SQLite file, or a PostgreSQL database dropped afterwards."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        yield f"sqlite+aiosqlite:///{directory / f'{uuid.uuid4().hex[:8]}.db'}"
        return
    admin, base = _admin_conninfo(server)
    name = f"test_auth_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(base).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's database, migrated once."""
    with empty_database(tmp_path_factory.mktemp("db")) as url:
        upgrade(base_settings(url))
        yield url


@pytest.fixture
def scratch_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database for tests that build the schema themselves."""
    with empty_database(tmp_path) as url:
        yield url


def base_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("TEST_REDIS_URL") or None,
        "REDIS_KEY_PREFIX": f"test-{uuid.uuid4().hex[:12]}",
        "SECRET_KEY": TEST_SECRET_KEY,
        "PASSWORD_PEPPER": TEST_PEPPER,
        "BCRYPT_ROUNDS": 4,
        "TESTING": True,
        "EMAIL_BACKEND": "console",
        "FRONTEND_BASE_URL": "http://frontend.test",
        "BACKEND_BASE_URL": "http://testserver",
        "RATE_LIMIT_PER_MINUTE": 100_000,
        "AUTH_RATE_LIMIT_PER_MINUTE": 100_000,
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
        "PASSWORD_BREACH_CHECK": False,
        "HIBP_API_URL": OFFLINE_URL,
    }
    values.update(overrides)
    settings = Settings(_env_file=None, **values)
    shared = os.environ.get("TEST_REDIS_URL")
    if shared and settings.REDIS_URL == shared:
        _redis_prefixes.append(settings.REDIS_KEY_PREFIX)
    return settings


def _glob_escape(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)


@pytest.fixture(autouse=True)
def _delete_the_tests_redis_keys() -> Iterator[None]:
    """After each test, delete every key under the prefixes its apps used on TEST_REDIS_URL.

    Whoever wrote them: a harness, an app a test built itself, a job that ran
    after a harness emptied its store. Keys outside those prefixes (other
    runs, other applications) are never touched.
    """
    yield
    prefixes = list(_redis_prefixes)
    _redis_prefixes.clear()
    url = os.environ.get("TEST_REDIS_URL")
    if not (url and prefixes):
        return
    with redis.Redis.from_url(url) as client:
        for prefix in prefixes:
            pattern = _glob_escape(prefix.rstrip(":") + ":") + "*"
            batch: list[bytes] = []
            for key in client.scan_iter(match=pattern, count=500):
                batch.append(key)
                if len(batch) == 500:
                    client.unlink(*batch)
                    batch.clear()
            if batch:
                client.unlink(*batch)


@dataclass
class Harness:
    """One running app (lifespan entered) with its client and test doubles."""

    app: FastAPI
    client: httpx.AsyncClient
    mailbox: Mailbox
    clock: FakeClock
    settings: Settings
    extra_clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def ctx(self) -> ServiceContext:
        ctx: ServiceContext = self.app.state.ctx
        return ctx

    async def settle(self) -> None:
        """Wait for background jobs (emails) to finish."""
        await self.ctx.background.join()

    def new_client(self, peer: tuple[str, int] = PEER, **kwargs: Any) -> httpx.AsyncClient:
        client = make_client(self.app, peer, **kwargs)
        self.extra_clients.append(client)
        return client

    async def user(self, email: str | None = None, password: str = flows.PASSWORD) -> str:
        """A registered, verified user; returns the email."""
        return await flows.verified_user(
            self.client, self.mailbox, self.ctx.background, email, password
        )

    async def login(self, email: str, password: str = flows.PASSWORD) -> dict[str, Any]:
        return await flows.tokens(self.client, email, password)

    async def admin(self) -> tuple[str, dict[str, Any]]:
        """A verified admin and its tokens."""
        from app.services.bootstrap import ensure_admin

        email = flows.new_email("admin")
        async with self.ctx.sessionmaker() as db:
            await ensure_admin(db, self.ctx, email=email, password=flows.PASSWORD, promote=True)
        return email, await self.login(email)


def make_client(app: FastAPI, peer: tuple[str, int] = PEER, **kwargs: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=peer)
    kwargs.setdefault("base_url", "http://testserver")
    return httpx.AsyncClient(transport=transport, **kwargs)


HarnessFactory = Callable[..., Awaitable[Harness]]


async def _wipe_database(ctx: ServiceContext) -> None:
    async with ctx.sessionmaker() as db:
        for table in reversed(SQLModel.metadata.sorted_tables):
            await db.exec(delete(table))
        await db.commit()


@pytest.fixture
async def make_harness(database_url: str) -> AsyncIterator[HarnessFactory]:
    """Factory: `await make_harness(SETTING=value, ...)` starts an app with those settings."""
    async with AsyncExitStack() as stack:
        started: list[Harness] = []

        async def make(
            *,
            clock: FakeClock | None = None,
            app_kwargs: dict[str, Any] | None = None,
            **overrides: Any,
        ) -> Harness:
            settings = base_settings(database_url, **overrides)
            mailbox = Mailbox()
            clock = clock or FakeClock()
            # app_kwargs override the defaults; email_sender=None means "the configured backend".
            kwargs: dict[str, Any] = {
                "clock": clock,
                "email_sender": mailbox,
                "email_retry_delay": 0.001,
                **(app_kwargs or {}),
            }
            app = create_app(settings, **kwargs)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(make_client(app))
            harness = Harness(app, client, mailbox, clock, settings)
            started.append(harness)
            return harness

        try:
            yield make
        finally:
            for harness in started:
                await harness.settle()
                for extra in harness.extra_clients:
                    await extra.aclose()
                await harness.ctx.store.clear("")  # only this app's key prefix
            if started:
                await _wipe_database(started[0].ctx)


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> Harness:
    return await make_harness()


@pytest.fixture
def client(harness: Harness) -> httpx.AsyncClient:
    return harness.client


@pytest.fixture
def mailbox(harness: Harness) -> Mailbox:
    return harness.mailbox


@pytest.fixture
def clock(harness: Harness) -> FakeClock:
    return harness.clock


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
