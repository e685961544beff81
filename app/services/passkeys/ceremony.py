"""What registration and sign-in share: the relying party, challenges, base64url.

A challenge is 32 random bytes. Its base64url form is the secret of a
`Challenges` entry (single use, 5 minutes, per purpose, shared across workers
through the store), so a response is matched to its challenge by the
challenge the browser put in `clientDataJSON`: nothing else has to travel
between the two calls of a ceremony.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

import structlog
from webauthn.helpers.cose import COSEAlgorithmIdentifier

from app.config import Settings
from app.services.challenges import Challenges
from app.services.context import ServiceContext

log = structlog.get_logger(__name__)

REGISTER = "webauthn-register"
SIGN_IN = "webauthn-sign-in"
CHALLENGE_BYTES = 32
CHALLENGE_TTL = 300.0
TIMEOUT_MS = int(CHALLENGE_TTL * 1000)
# ES256, EdDSA, RS256: what every current authenticator offers.
ALGORITHMS = (
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
)
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url(data: bytes) -> str:
    """Unpadded base64url, as WebAuthn's JSON forms write binary values."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def from_b64url(value: str) -> bytes:
    """Strict base64url decoding (padding optional); ValueError for anything else."""
    stripped = value.rstrip("=")
    if len(value) - len(stripped) > 2 or not _BASE64URL.fullmatch(stripped):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))


def canonical_b64url(value: str) -> str | None:
    """`value` re-encoded unpadded (one spelling per byte string), or None if invalid."""
    try:
        return b64url(from_b64url(value))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class RelyingParty:
    id: str
    name: str
    origins: list[str]

    @classmethod
    def of(cls, settings: Settings) -> RelyingParty:
        return cls(settings.webauthn_rp_id, settings.APP_NAME, settings.webauthn_origins)


@dataclass(frozen=True, slots=True)
class SpentChallenge:
    challenge: bytes
    payload: dict[str, Any]


async def new_challenge(ctx: ServiceContext, purpose: str, payload: dict[str, Any]) -> str:
    """A fresh challenge (base64url), remembered with `payload` for 5 minutes."""
    challenge = b64url(secrets.token_bytes(CHALLENGE_BYTES))
    return await Challenges(ctx.store).issue(purpose, payload, ttl=CHALLENGE_TTL, raw=challenge)


async def spend_challenge(
    ctx: ServiceContext, purpose: str, client_data_json: str
) -> SpentChallenge | None:
    """Spend the challenge the browser signed; None if there is none, or it is used,
    expired or of another purpose."""
    challenge = _challenge_in(client_data_json)
    if challenge is None:
        return None
    payload = await Challenges(ctx.store).consume(purpose, b64url(challenge))
    return None if payload is None else SpentChallenge(challenge, payload)


def _challenge_in(client_data_json: str) -> bytes | None:
    try:
        client_data = json.loads(from_b64url(client_data_json))
        challenge = client_data["challenge"]
        if not isinstance(challenge, str):
            return None
        raw = from_b64url(challenge)
    # RecursionError: deeply nested JSON, which the decoder refuses that way.
    except (ValueError, TypeError, KeyError, RecursionError):
        return None
    return raw if len(raw) == CHALLENGE_BYTES else None
