"""Health: public liveness and readiness probes, and the admin's detailed views."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from app import __version__
from app.api.responses import ADMIN, errors
from app.api.routing import AppRoute
from app.dependencies import ContextDep, require_admin
from app.schemas.health import DatabaseStatsOut, DetailedHealthOut, HealthOut, ReadyOut
from app.services import health as service

# Public probes, outside /api/v1 where load balancers and orchestrators expect them.
router = APIRouter(tags=["health"], route_class=AppRoute)
# Admin views, under /api/v1/health.
admin_router = APIRouter(
    prefix="/health",
    tags=["health"],
    route_class=AppRoute,
    dependencies=[Depends(require_admin)],
    responses=errors(*ADMIN),
)
# Rendered once: a probe should cost as little as the server can answer.
HEALTH_BODY = HealthOut(status="ok", version=__version__).model_dump_json().encode()


@router.get("/health", response_model=HealthOut)
async def health() -> Response:
    """Liveness: the process answers. Cheap; touches nothing."""
    return Response(HEALTH_BODY, media_type="application/json")


@router.get("/health/ready", responses={503: {"model": ReadyOut, "description": "Not ready"}})
async def ready(ctx: ContextDep, response: Response) -> ReadyOut:
    """Readiness: 200 when the database answers and its schema is migrated, else 503."""
    report = await service.readiness(ctx)
    if report.status != "ok":
        response.status_code = 503
    return report


@admin_router.get(
    "/detailed",
    responses={503: {"model": DetailedHealthOut, "description": "The database is down"}},
)
async def detailed(ctx: ContextDep, response: Response) -> DetailedHealthOut:
    """Database and Redis status with latency, pool, uptime and version.

    `degraded` means Redis is configured but unreachable: rate limits, lockouts
    and revocations then hold per process only.
    """
    report = await service.detailed_health(ctx)
    if report.status == "down":
        response.status_code = 503
    return report


@admin_router.get("/database")
async def database(ctx: ContextDep) -> DatabaseStatsOut:
    """Query count, mean and p95 time, slow statements (no parameters) and pool usage."""
    return service.database_stats(ctx)
