"""Application factory: settings -> services -> routers -> middleware."""

from __future__ import annotations

import functools
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import structlog
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import SecretStr
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from app import __version__
from app.api.docs import install_docs
from app.api.refresh_cookie import CookiePolicy
from app.api.routing import include_flat
from app.api.v1.endpoints import health, jwks
from app.api.v1.endpoints import metrics as metrics_endpoint
from app.api.v1.router import include_api
from app.cache.base import Store
from app.config import Settings, get_settings
from app.core import metrics
from app.core.clock import Clock
from app.core.logging import configure_logging
from app.database.locks import lock_transaction
from app.email.base import EmailSender
from app.errors import AppError, register_exception_handlers
from app.middleware.body_limit import BodyLimitMiddleware
from app.middleware.cors import (
    ALLOWED_HEADERS,
    ALLOWED_METHODS,
    EXPOSED_HEADERS,
    JSONCORSMiddleware,
)
from app.middleware.rate_limit import RateLimitMiddleware
from app.middleware.request_id import RequestIdMiddleware
from app.middleware.security_headers import SecurityHeadersMiddleware
from app.runtime import open_context
from app.schemas.common import normalise_email
from app.services.bootstrap import AdminOutcome, ensure_admin
from app.services.context import ServiceContext
from app.services.health import database_schema
from app.services.signing.loader import KeyLoader
from app.services.webhooks.dispatcher import Dispatcher

log = structlog.get_logger(__name__)
STARTUP_PROBE_TIMEOUT_SECONDS = 10.0


def _operation_id(route: APIRoute) -> str:
    """`<tag>-<function name>`, e.g. `auth-login`, for readable generated clients."""
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


class AuthAPI(FastAPI):
    """FastAPI with our outer ASGI layers wrapped around Starlette's own stack.

    Layers added with `add_middleware` sit inside Starlette's error middleware,
    so they would miss 500 responses; wrapping from outside puts the request id
    and security headers on every response.
    """

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.settings
        proxies = settings.trusted_proxy_networks
        app: ASGIApp = super().build_middleware_stack()
        app = RateLimitMiddleware(app, settings=settings)
        app = BodyLimitMiddleware(app)
        app = JSONCORSMiddleware(
            app,
            allow_origins=settings.BACKEND_CORS_ORIGINS,
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            credentials=settings.refresh_cookie_enabled,
        )
        app = RequestIdMiddleware(app, trusted_proxies=proxies)
        return SecurityHeadersMiddleware(app, trusted_proxies=proxies)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    email_sender: EmailSender | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
    store: Store | None = None,
    email_retry_delay: float = 1.0,
) -> FastAPI:
    """Build the application. Arguments other than `settings` let tests swap in fakes."""
    settings = settings or get_settings()
    configure_logging(level=settings.LOG_LEVEL, fmt=settings.log_format, cache=not settings.TESTING)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_context(
            settings,
            clock=clock,
            email_sender=email_sender,
            http_transport=http_transport,
            store=store,
            email_retry_delay=email_retry_delay,
        ) as ctx:
            app.state.ctx = ctx
            await _start(ctx)
            keys = KeyLoader(ctx)
            if ctx.keyring.asymmetric:
                await keys.start()
            metrics.worker_started()
            if not settings.TESTING:
                # Startup objects (modules, routes, schemas) live as long as the process:
                # keep them out of every later collection, which shortens its pauses.
                gc.collect()
                gc.freeze()
            # Sends webhooks from the outbox, beside (never inside) requests.
            dispatcher = app.state.webhook_dispatcher = Dispatcher(ctx)
            dispatcher.start()
            try:
                yield
            finally:
                await dispatcher.stop()
                await keys.stop()
        log.info("shutdown_complete")

    app = _new_app(lifespan)
    app.state.settings = settings
    app.state.refresh_cookie = CookiePolicy.of(settings)
    register_exception_handlers(app)
    app.router.routes.extend(_route_table())
    install_docs(app)
    return app


def _new_app(lifespan: Any) -> FastAPI:
    return AuthAPI(
        title="Auth backend",
        version=__version__,
        summary="Accounts, sessions and tokens for single-page apps.",
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        openapi_tags=OPENAPI_TAGS,
        # Metrics are Prometheus (/metrics); FastAPI's OpenTelemetry hooks would
        # cost a provider lookup on every request for nothing.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )


@functools.cache
def _route_table() -> tuple[BaseRoute, ...]:
    """The health, API and metrics routes, built once per process.

    Building them (FastAPI derives a validator for every parameter and model)
    is most of what an application costs to construct. They depend on no
    setting and hold no state of their own, so every application a process
    builds (a test run builds hundreds) shares one table. The routes belong
    to a template application: `app.dependency_overrides` does not reach them.
    """
    template = _new_app(lifespan=None)
    before = len(template.router.routes)
    include_flat(template, health.router)
    include_flat(template, jwks.router)
    include_api(template)
    include_flat(template, metrics_endpoint.router)
    return tuple(template.router.routes[before:])


async def _start(ctx: ServiceContext) -> None:
    settings = ctx.settings
    # More patience than a probe's: a slow first connection must not fail the start.
    schema = await database_schema(ctx, within=STARTUP_PROBE_TIMEOUT_SECONDS)
    if schema is None:
        raise RuntimeError(
            "database unreachable: check DATABASE_URL "
            f"({settings.database_url.split('@')[-1].split('?')[0]})"
        )
    if schema.status == "behind":  # every request would fail on a missing table
        raise RuntimeError(schema.message)
    if schema.status == "ahead":
        log.warning("database_schema_ahead", detail=schema.message)
    if not await ctx.store.ping():
        log.error("redis_unreachable_at_startup", fallback="per-process memory")
    if ctx.email_sender.name == "console" and not (settings.embedded or settings.DEBUG):
        log.warning(
            "email_backend_console",
            hint="emails (with their links) go to the log; set EMAIL_BACKEND=smtp or resend",
        )
    if settings.FIRST_ADMIN_EMAIL and settings.FIRST_ADMIN_PASSWORD:
        await _first_admin(ctx, settings.FIRST_ADMIN_EMAIL, settings.FIRST_ADMIN_PASSWORD)
    log.info(
        "startup_complete",
        version=__version__,
        database=settings.database_url.split(":", 1)[0],
        store=ctx.store.backend,
        email=ctx.email_sender.name,
    )


async def _first_admin(ctx: ServiceContext, email: str, password: SecretStr) -> None:
    try:
        async with ctx.sessionmaker() as db:
            # Workers starting together take turns: the first creates the admin and
            # the others find it, instead of failing on the unique email.
            await lock_transaction(db, "first-admin")
            user, outcome = await ensure_admin(
                db,
                ctx,
                email=normalise_email(email),
                password=password.get_secret_value(),
                promote=False,
            )
    except AppError as exc:  # a weak password: the operator must act
        log.error("first_admin_not_created", reason=exc.code.value, detail=exc.detail)
        return
    if outcome is AdminOutcome.CREATED:
        log.info("first_admin_created", user_id=str(user.id))
    elif outcome is AdminOutcome.UNCHANGED:  # made by an earlier start or another worker
        log.info("first_admin_exists", user_id=str(user.id))
    else:  # someone's account (maybe an unproven registration): never changed from here
        log.warning(
            "first_admin_not_admin",
            user_id=str(user.id),
            hint="the address belongs to an account that is not an active, verified admin; "
            "run `backend create-admin --email <address>` to make it one",
        )


OPENAPI_TAGS: list[dict[str, Any]] = [
    {"name": "auth", "description": "Registration, login, tokens, verification, reset."},
    {"name": "oauth", "description": "Sign in with Google or GitHub."},
    {"name": "users", "description": "The signed-in user's profile, password and sessions."},
    {
        "name": "passkeys",
        "description": "Passkeys (WebAuthn): register, list, rename and delete the signed-in "
        "user's; sign in with one, no email or password needed. Options and credentials are "
        "WebAuthn Level 3 JSON (`parseCreationOptionsFromJSON`, `toJSON()`).",
    },
    {
        "name": "mfa",
        "description": "Two-factor authentication: TOTP enrolment (secret, `otpauth://` URI, "
        "SVG QR code), recovery codes, and `/auth/mfa/verify`, the second step of a sign-in "
        "that answered 403 `mfa_required`.",
    },
    {
        "name": "keys",
        "description": "The public keys (JWKS) other services verify access tokens with.",
    },
    {"name": "admin", "description": "Accounts, roles, unlocks and the audit trail (admins)."},
    {
        "name": "health",
        "description": "Public liveness (`/health`) and readiness (`/health/ready`) probes; "
        "detailed database, Redis and query statistics for admins. "
        "Prometheus metrics are served at `/metrics` (not part of this document).",
    },
    {
        "name": "cache",
        "description": "Admin: the cache's statistics and a reset that empties only the "
        "cache namespace (rate limits and lockouts are kept).",
    },
]
