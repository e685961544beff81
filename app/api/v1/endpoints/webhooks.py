"""Webhook endpoints (role `admin` only): manage, rotate secrets, test, list deliveries."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Response, status

from app.api.params import PageNumber, PageSize
from app.api.responses import AUTHENTICATED, JSON_BODY, errors
from app.api.routing import AppRoute
from app.dependencies import ContextDep, SessionDep, require_admin
from app.errors import InvalidWebhookUrl
from app.schemas.webhooks import (
    DeliveryOut,
    DeliveryPage,
    WebhookCreatedOut,
    WebhookIn,
    WebhookOut,
    WebhookSecretOut,
    WebhookUpdateIn,
)
from app.services.webhooks.endpoints import WebhookAdmin

router = APIRouter(
    prefix="/admin/webhooks",
    tags=["admin"],
    route_class=AppRoute,
    dependencies=[Depends(require_admin)],
    responses=errors(*AUTHENTICATED, 403),
)

BAD_URL = errors(400, *JSON_BODY, examples=[InvalidWebhookUrl()])


@router.post("", status_code=status.HTTP_201_CREATED, responses=BAD_URL)
async def create_webhook(body: WebhookIn, db: SessionDep, ctx: ContextDep) -> WebhookCreatedOut:
    """Add a webhook endpoint; its signing secret is shown only in this answer."""
    return await WebhookAdmin(db, ctx).create(
        url=body.url, events=body.events, description=body.description
    )


@router.get("")
async def list_webhooks(db: SessionDep, ctx: ContextDep) -> list[WebhookOut]:
    """Every webhook endpoint, oldest first."""
    return await WebhookAdmin(db, ctx).list_all()


@router.get("/{webhook_id}", responses=errors(404))
async def get_webhook(webhook_id: uuid.UUID, db: SessionDep, ctx: ContextDep) -> WebhookOut:
    """One webhook endpoint."""
    return await WebhookAdmin(db, ctx).get(webhook_id)


@router.patch("/{webhook_id}", responses={**BAD_URL, **errors(404)})
async def update_webhook(
    webhook_id: uuid.UUID, body: WebhookUpdateIn, db: SessionDep, ctx: ContextDep
) -> WebhookOut:
    """Change a webhook's URL, events, description or enabled flag."""
    changes = body.model_dump(exclude_unset=True)
    return await WebhookAdmin(db, ctx).update(webhook_id, changes)


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(404),
)
async def delete_webhook(webhook_id: uuid.UUID, db: SessionDep, ctx: ContextDep) -> None:
    """Delete a webhook endpoint and its deliveries."""
    await WebhookAdmin(db, ctx).delete(webhook_id)


@router.post("/{webhook_id}/rotate-secret", responses=errors(404))
async def rotate_webhook_secret(
    webhook_id: uuid.UUID, db: SessionDep, ctx: ContextDep
) -> WebhookSecretOut:
    """A new signing secret; for 24 hours the old one signs too."""
    return await WebhookAdmin(db, ctx).rotate_secret(webhook_id)


@router.post("/{webhook_id}/test", status_code=status.HTTP_202_ACCEPTED, responses=errors(404))
async def test_webhook(webhook_id: uuid.UUID, db: SessionDep, ctx: ContextDep) -> DeliveryOut:
    """Send a `webhook.test` message to this endpoint (queued; see its deliveries)."""
    return await WebhookAdmin(db, ctx).send_test(webhook_id)


@router.get("/{webhook_id}/deliveries", responses=errors(404))
async def list_webhook_deliveries(
    webhook_id: uuid.UUID,
    db: SessionDep,
    ctx: ContextDep,
    page: PageNumber = 1,
    size: PageSize = 50,
) -> DeliveryPage:
    """A webhook's deliveries, newest first."""
    return await WebhookAdmin(db, ctx).deliveries(webhook_id, page=page, size=size)
