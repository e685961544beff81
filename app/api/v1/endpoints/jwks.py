"""The JSON Web Key Set other services verify access tokens with (SPEC §7.3)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.api.responses import errors
from app.api.routing import AppRoute
from app.schemas.jwks import JwksOut
from app.services.context import ServiceContext

# Public, outside /api/v1 where JWKS clients look for it.
router = APIRouter(tags=["keys"], route_class=AppRoute)
_HEADERS = [(b"content-type", b"application/json"), (b"cache-control", b"public, max-age=300")]


class _Prerendered(Response):
    """A body and headers ready to send: nothing to render or encode per request."""

    def __init__(self, body: bytes) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        # A fresh list each time: outer layers append their own headers to it.
        self.raw_headers = [(b"content-length", b"%d" % len(body)), *_HEADERS]


@router.get("/.well-known/jwks.json", response_model=JwksOut, responses=errors(429))
async def jwks(request: Request) -> Response:
    """The public keys that sign access tokens (next, current and recent previous ones)."""
    # Pre-rendered by the key loader on each change: serving it touches nothing.
    ctx: ServiceContext = request.app.state.ctx
    return _Prerendered(ctx.keyring.snapshot.jwks)
