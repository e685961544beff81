from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StrictBool

from app.models import AuditEvent
from app.schemas.common import InputModel, Page, SafeStr

# Every audit event can be subscribed to, one by one or all with "*".
EVENT_NAMES = frozenset(event.value for event in AuditEvent)
TEST_EVENT = "webhook.test"


def _events(value: list[str]) -> list[str]:
    unknown = sorted({name for name in value if name != "*" and name not in EVENT_NAMES})
    if unknown:
        raise ValueError(f"unknown event names: {', '.join(unknown)[:200]}")
    if "*" in value:
        return ["*"]
    return sorted(set(value))


EventList = Annotated[
    list[Annotated[str, Field(max_length=64)]],
    Field(min_length=1, max_length=100, examples=[["login_success", "register"]]),
    AfterValidator(_events),
]
WebhookUrl = Annotated[
    str, Field(min_length=1, max_length=2048, examples=["https://example.com/hooks"])
]
Description = Annotated[SafeStr, Field(max_length=500, examples=["CRM sync"])]


class WebhookIn(InputModel):
    url: WebhookUrl
    events: EventList = Field(description='Audit event names, or ["*"] for every event')
    description: Description | None = None


class WebhookUpdateIn(InputModel):
    """What to change (absent: leave as it is)."""

    url: WebhookUrl | None = None
    events: EventList | None = None
    description: Description | None = None
    enabled: StrictBool | None = None


class WebhookOut(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str] = Field(examples=[["login_success"]])
    description: str | None
    enabled: bool
    created_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(
        description="The signing secret (`whsec_<base64>`); shown only here",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookSecretOut(BaseModel):
    secret: str = Field(
        description="The new signing secret; the old one also signs for 24 hours",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class DeliveryOut(BaseModel):
    id: uuid.UUID = Field(description="Also the message's `webhook-id` (as `msg_<hex>`)")
    event: str = Field(examples=["login_success"])
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(Page[DeliveryOut]):
    pass
