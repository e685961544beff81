"""Tables. Importing this package registers every table on SQLModel.metadata."""

from app.models.api_key import ApiKey
from app.models.audit import AuditEvent, AuditLog
from app.models.mfa import RecoveryCode
from app.models.oauth_account import OAuthAccount
from app.models.passkey import Passkey
from app.models.session import RefreshToken, UserSession
from app.models.signing_key import SigningKey
from app.models.tokens import OneTimeToken, TokenPurpose
from app.models.user import Role, User
from app.models.webhook import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "ApiKey",
    "AuditEvent",
    "AuditLog",
    "DeliveryStatus",
    "OAuthAccount",
    "OneTimeToken",
    "Passkey",
    "RecoveryCode",
    "RefreshToken",
    "Role",
    "SigningKey",
    "TokenPurpose",
    "User",
    "UserSession",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
