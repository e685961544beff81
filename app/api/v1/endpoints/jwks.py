"""The JSON Web Key Set other services verify access tokens with (SPEC §7.3)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.api.responses import errors
from app.api.routing import AppRoute
from app.schemas.jwks import JwksOut
from app.services.context import ServiceContext

# Public, outside /api/v1 where JWKS clients look for it.
router = APIRouter(tags=["keys"], route_class=AppRoute)
CACHE_CONTROL = "public, max-age=300"


@router.get("/.well-known/jwks.json", response_model=JwksOut, responses=errors(429))
async def jwks(request: Request) -> Response:
    """The public keys that sign access tokens (next, current and recent previous ones)."""
    # Pre-rendered by the key loader on each change: serving it touches nothing.
    ctx: ServiceContext = request.app.state.ctx
    return Response(
        ctx.keyring.snapshot.jwks,
        media_type="application/json",
        headers={"cache-control": CACHE_CONTROL},
    )
