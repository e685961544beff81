"""The signed-in user's personal API keys (managed with an access token, never a key)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app.api.responses import AUTHENTICATED, JSON_BODY, errors
from app.api.routing import AppRoute
from app.dependencies import ClientDep, ContextDep, CurrentPrincipal, SessionDep
from app.errors import Forbidden, TooManyApiKeys
from app.schemas.api_keys import ApiKeyCreatedOut, ApiKeyIn, ApiKeyOut
from app.services.api_keys import ApiKeyService

router = APIRouter(
    prefix="/users/api-keys",
    tags=["users"],
    route_class=AppRoute,
    responses=errors(*AUTHENTICATED, 403, examples=[Forbidden("API keys cannot be used here")]),
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=errors(409, *JSON_BODY, examples=[TooManyApiKeys()]),
)
async def create_api_key(
    body: ApiKeyIn, principal: CurrentPrincipal, db: SessionDep, ctx: ContextDep, client: ClientDep
) -> ApiKeyCreatedOut:
    """Create a personal API key; the key is shown only in this answer."""
    return await ApiKeyService(db, ctx).create(
        principal, name=body.name, expires_in_days=body.expires_in_days, client=client
    )


@router.get("")
async def list_api_keys(
    principal: CurrentPrincipal, db: SessionDep, ctx: ContextDep
) -> list[ApiKeyOut]:
    """The current user's live API keys, oldest first."""
    return await ApiKeyService(db, ctx).mine(principal)


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(404),
)
async def delete_api_key(
    key_id: uuid.UUID,
    principal: CurrentPrincipal,
    db: SessionDep,
    ctx: ContextDep,
    client: ClientDep,
) -> None:
    """Delete one of the current user's API keys; it stops working at once."""
    await ApiKeyService(db, ctx).delete(principal, key_id, client=client)
