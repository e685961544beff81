"""Prometheus scrape target: public, outside the OpenAPI document, no user data."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.core import metrics
from app.dependencies import ContextDep

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def scrape(ctx: ContextDep) -> Response:
    """Every metric in the Prometheus text format (all workers' under `--workers N`)."""
    # Gauges that describe live state are refreshed from this process's view
    # (synchronous on purpose: rendering reads the workers' files off the loop).
    ctx.db_monitor.publish()
    metrics.set_store_degraded(bool(ctx.settings.REDIS_URL) and ctx.store.backend != "redis")
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)
