"""The /api/v1 routes, one router per module, copied into the application's flat
route table (see `include_flat`)."""

from fastapi import APIRouter, FastAPI

from app.api.responses import errors
from app.api.routing import include_flat
from app.api.v1.endpoints import (
    admin,
    api_keys,
    auth,
    cache,
    email_signin,
    health,
    mfa,
    oauth,
    passkeys,
    users,
    webhooks,
)

PREFIX = "/api/v1"
# The hottest routes first: routing tries them in order.
ROUTERS: tuple[APIRouter, ...] = (
    users.router,
    auth.router,
    email_signin.router,
    oauth.router,
    passkeys.router,
    passkeys.login_router,
    mfa.router,
    mfa.login_router,
    api_keys.router,
    admin.router,
    webhooks.router,
    health.admin_router,
    cache.router,
)


def include_api(app: FastAPI) -> None:
    for router in ROUTERS:
        include_flat(app, router, prefix=PREFIX, responses=errors(503))
