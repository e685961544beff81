"""Access tokens: short-lived JWTs (SPEC §6), HMAC-signed, algorithm pinned on decode."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from app.core.clock import Clock

ACCESS_TYPE = "access"
ACCESS_TYP_HEADER = "at+jwt"
REQUIRED_CLAIMS = ("sub", "sid", "jti", "iat", "exp", "iss", "aud", "type")
CLOCK_SKEW = timedelta(seconds=30)
# Verified tokens remembered by their exact text: an SPA sends the same token
# for its whole lifetime, and verifying costs far more than a dict lookup. Only
# tokens that passed every check get in, and their lifetime is checked on use.
VERIFIED_CACHE_SIZE = 4096


class InvalidAccessToken(Exception):
    """The token is malformed, tampered, expired or of the wrong kind."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    jti: str
    expires_at: datetime
    issued_at: datetime


class AccessTokenCodec:
    def __init__(
        self, *, key: bytes, algorithm: str, issuer: str, ttl: timedelta, clock: Clock
    ) -> None:
        self._key = key
        self._algorithm = algorithm
        self._issuer = issuer
        self._ttl = ttl
        self._clock = clock
        self._verified: dict[str, AccessClaims] = {}

    @property
    def ttl_seconds(self) -> int:
        return int(self._ttl.total_seconds())

    def encode(
        self,
        *,
        user_id: uuid.UUID,
        session_id: uuid.UUID,
        role: str,
        amr: Sequence[str],
    ) -> str:
        """Sign an access token. `role` is the role at issue time, for other services
        that read the token; this service itself always checks the live role."""
        now = self._clock.now()
        claims = {
            "sub": str(user_id),
            "sid": str(session_id),
            "jti": uuid.uuid4().hex,
            "iat": int(now.timestamp()),
            "exp": int((now + self._ttl).timestamp()),
            "iss": self._issuer,
            "aud": self._issuer,
            "type": ACCESS_TYPE,
            "role": role,
            "amr": list(amr),
        }
        return jwt.encode(
            claims, self._key, algorithm=self._algorithm, headers={"typ": ACCESS_TYP_HEADER}
        )

    def decode(self, token: str) -> AccessClaims:
        """Verify signature, header, claims and lifetime; raise InvalidAccessToken otherwise.

        Only the configured HMAC algorithm is accepted, and key-locating headers
        (`kid`, `jku`, `jwk`, `x5u`) are never consulted: the key is always ours.
        """
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)))  # oldest first
            self._verified[token] = claims
        now = self._clock.now()
        if claims.expires_at <= now or claims.issued_at > now + CLOCK_SKEW:
            raise InvalidAccessToken("expired or not yet valid")
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            decoded = jwt.api_jwt.decode_complete(
                token,
                self._key,
                algorithms=[self._algorithm],
                audience=self._issuer,
                issuer=[self._issuer],
                # Time is checked below against the injected clock.
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidAccessToken(type(exc).__name__) from exc
        header, payload = decoded["header"], decoded["payload"]
        if header.get("typ") != ACCESS_TYP_HEADER or payload.get("type") != ACCESS_TYPE:
            raise InvalidAccessToken("wrong token type")
        try:
            exp = datetime.fromtimestamp(int(payload["exp"]), UTC)
            iat = datetime.fromtimestamp(int(payload["iat"]), UTC)
            return AccessClaims(
                user_id=uuid.UUID(str(payload["sub"])),
                session_id=uuid.UUID(str(payload["sid"])),
                jti=str(payload["jti"]),
                expires_at=exp,
                issued_at=iat,
            )
        except (TypeError, ValueError, OverflowError, OSError) as exc:
            raise InvalidAccessToken("malformed claims") from exc
