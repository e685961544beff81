"""Standard Webhooks secrets and signatures (https://www.standardwebhooks.com/)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from datetime import datetime
from typing import Any

from app.core.crypto import DataCipher, Purpose

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes, the form receivers' libraries take."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secrets_: list[str], *, msg_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` header: `v1,<base64>` per secret, space-separated."""
    payload = f"{msg_id}.{timestamp}.{body}".encode()
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_key(s), payload, hashlib.sha256).digest()).decode()
        for s in secrets_
    )


def seal(cipher: DataCipher, secret: str, endpoint_id: uuid.UUID) -> str:
    """Encrypt a secret for storage, bound to its endpoint."""
    return cipher.encrypt(Purpose.WEBHOOK_SECRET, secret.encode(), context=str(endpoint_id))


def unseal(cipher: DataCipher, sealed: str, endpoint_id: uuid.UUID) -> str:
    return cipher.decrypt(Purpose.WEBHOOK_SECRET, sealed, context=str(endpoint_id)).decode()


def envelope(type_: str, at: datetime, data: dict[str, Any]) -> str:
    """A message's JSON body: `{"type", "timestamp", "data"}`, compact, UTC as `Z`."""
    return json.dumps(
        {"type": type_, "timestamp": at.isoformat().replace("+00:00", "Z"), "data": data},
        separators=(",", ":"),
    )
