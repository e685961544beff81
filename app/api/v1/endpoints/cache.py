"""The cache's statistics and its reset (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.api.responses import ADMIN, errors
from app.api.routing import AppRoute
from app.dependencies import ContextDep, require_admin
from app.schemas.health import CacheClearedOut, CacheStatsOut
from app.services import health as service

router = APIRouter(
    prefix="/cache",
    tags=["cache"],
    route_class=AppRoute,
    dependencies=[Depends(require_admin)],
    responses=errors(*ADMIN),
)


@router.get("/stats")
async def stats(ctx: ContextDep) -> CacheStatsOut:
    """Backend, number of keys, hits and misses of this process, and memory used."""
    return await service.cache_stats(ctx)


@router.delete("")
async def clear(ctx: ContextDep) -> CacheClearedOut:
    """Empty this application's cache namespace; rate limits and lockouts are untouched."""
    return CacheClearedOut(deleted=await service.clear_cache(ctx))
