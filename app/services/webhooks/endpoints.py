"""Admin use-cases for webhook endpoints: create, change, rotate, test, list deliveries."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import outbound
from app.core.crypto import DecryptionError
from app.errors import InvalidWebhookUrl, NotFound
from app.models import WebhookDelivery, WebhookEndpoint
from app.repositories.webhooks import WebhookRepository
from app.schemas.webhooks import (
    TEST_EVENT,
    DeliveryOut,
    DeliveryPage,
    WebhookCreatedOut,
    WebhookOut,
    WebhookSecretOut,
)
from app.services.context import ServiceContext
from app.services.webhooks import outbox
from app.services.webhooks.signing import envelope, new_secret, seal, unseal

ROTATION_OVERLAP = timedelta(hours=24)


def webhook_out(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        events=endpoint.events,
        description=endpoint.description,
        enabled=endpoint.enabled,
        created_at=endpoint.created_at,
    )


class WebhookAdmin:
    def __init__(self, db: AsyncSession, ctx: ServiceContext) -> None:
        self.db = db
        self.ctx = ctx
        self.repo = WebhookRepository(db)

    async def _check_url(self, url: str) -> None:
        """Refuse a URL that is not http(s) or whose host is not public (unless allowed)."""
        try:
            await outbound.resolve(url, allow_private=self.ctx.settings.WEBHOOK_ALLOW_PRIVATE_URLS)
        except outbound.UnsafeTarget as exc:
            raise InvalidWebhookUrl() from exc

    async def _get(self, endpoint_id: uuid.UUID) -> WebhookEndpoint:
        endpoint = await self.repo.get(endpoint_id)
        if endpoint is None:
            raise NotFound("Webhook not found")
        return endpoint

    async def create(
        self, *, url: str, events: list[str], description: str | None
    ) -> WebhookCreatedOut:
        """Save an endpoint; its signing secret is returned only here."""
        await self._check_url(url)
        secret = new_secret()
        endpoint_id = uuid.uuid4()
        endpoint = await self.repo.add(
            WebhookEndpoint(
                id=endpoint_id,
                url=url,
                events=events,
                description=description,
                secret=seal(self.ctx.cipher, secret, endpoint_id),
                created_at=self.ctx.clock.now(),
            )
        )
        await self.db.commit()
        return WebhookCreatedOut(**webhook_out(endpoint).model_dump(), secret=secret)

    async def list_all(self) -> list[WebhookOut]:
        return [webhook_out(endpoint) for endpoint in await self.repo.list_all()]

    async def get(self, endpoint_id: uuid.UUID) -> WebhookOut:
        return webhook_out(await self._get(endpoint_id))

    async def update(self, endpoint_id: uuid.UUID, changes: dict[str, Any]) -> WebhookOut:
        """Change url, events, description or enabled (null url/events/enabled: unchanged)."""
        endpoint = await self._get(endpoint_id)
        if changes.get("url") is not None:
            await self._check_url(changes["url"])
            endpoint.url = changes["url"]
        if changes.get("events") is not None:
            endpoint.events = changes["events"]
        if "description" in changes:
            endpoint.description = changes["description"]
        if changes.get("enabled") is not None:
            endpoint.enabled = changes["enabled"]
        self.db.add(endpoint)
        await self.db.commit()
        return webhook_out(endpoint)

    async def delete(self, endpoint_id: uuid.UUID) -> None:
        await self.repo.delete(await self._get(endpoint_id))
        await self.db.commit()

    async def rotate_secret(self, endpoint_id: uuid.UUID) -> WebhookSecretOut:
        """A new secret signs from now on; the current one keeps signing for 24 h (a
        secret rotated out earlier stops at once). A current secret that no longer
        decrypts (the encryption keys changed) is dropped: rotating is how it is mended."""
        endpoint = await self._get(endpoint_id)
        try:
            current = unseal(self.ctx.cipher, endpoint.secret, endpoint.id)
        except DecryptionError:
            endpoint.previous_secret = endpoint.previous_secret_until = None
        else:
            endpoint.previous_secret = seal(self.ctx.cipher, current, endpoint.id)
            endpoint.previous_secret_until = self.ctx.clock.now() + ROTATION_OVERLAP
        secret = new_secret()
        endpoint.secret = seal(self.ctx.cipher, secret, endpoint.id)
        self.db.add(endpoint)
        await self.db.commit()
        return WebhookSecretOut(secret=secret)

    async def send_test(self, endpoint_id: uuid.UUID) -> DeliveryOut:
        """Queue a `webhook.test` message to this endpoint (sent by the dispatcher)."""
        endpoint = await self._get(endpoint_id)
        now = self.ctx.clock.now()
        delivery = WebhookDelivery(
            endpoint_id=endpoint.id,
            event=TEST_EVENT,
            body=envelope(TEST_EVENT, now, {"webhook_id": str(endpoint.id)}),
            next_attempt_at=now,
            created_at=now,
        )
        self.repo.add_delivery(delivery)
        outbox.wake_on_commit(self.db)
        await self.db.commit()
        return delivery_out(delivery)

    async def deliveries(self, endpoint_id: uuid.UUID, *, page: int, size: int) -> DeliveryPage:
        await self._get(endpoint_id)
        rows, total = await self.repo.deliveries(endpoint_id, offset=(page - 1) * size, limit=size)
        items = [delivery_out(row) for row in rows]
        return DeliveryPage(items=items, total=total, page=page, size=size)


def delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        event=delivery.event,
        status=delivery.status,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
    )
