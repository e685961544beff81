"""Liveness and readiness probes (public, outside /api/v1)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app import __version__
from app.api.routing import AppRoute
from app.dependencies import ContextDep
from app.schemas.health import HealthOut, ReadyOut
from app.services.health import database_ok

router = APIRouter(tags=["health"], route_class=AppRoute)
HEALTH = HealthOut(status="ok", version=__version__)


@router.get("/health")
async def health() -> HealthOut:
    """Liveness: the process answers. Cheap; touches nothing."""
    return HEALTH


@router.get("/health/ready", responses={503: {"model": ReadyOut, "description": "Not ready"}})
async def ready(ctx: ContextDep, response: Response) -> ReadyOut:
    """Readiness: 200 when the database answers, else 503."""
    if await database_ok(ctx):
        return ReadyOut(status="ok", database="ok")
    response.status_code = 503
    return ReadyOut(status="down", database="down")
