"""Access tokens: short-lived JWTs (SPEC §6, §7.3), algorithm pinned on decode.

HMAC (`HS256`, the default) signs with `SECRET_KEY`. `ES256`, `EdDSA` and
`RS256` sign with the current key of the key set (`app/core/keyring.py`) and
name it in the `kid` header; verification looks the kid up among the
published keys only and never follows `jku`, `jwk` or `x5u`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from app.core.clock import Clock
from app.core.keyring import KeyRing

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
    not_before: datetime | None = None
    # The key that signed it (asymmetric algorithms): the token dies with the key.
    kid: str | None = None


class AccessTokenCodec:
    def __init__(
        self,
        *,
        key: bytes,
        algorithm: str,
        issuer: str,
        ttl: timedelta,
        clock: Clock,
        keyring: KeyRing | None = None,
    ) -> None:
        self._key = key
        self._algorithm = algorithm
        self._keyring = keyring if keyring is not None and keyring.asymmetric else None
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
        if self._keyring is None:
            return jwt.encode(
                claims, self._key, algorithm=self._algorithm, headers={"typ": ACCESS_TYP_HEADER}
            )
        snapshot = self._keyring.snapshot
        if snapshot.signing_key is None or snapshot.signing_kid is None:
            raise RuntimeError("no signing key loaded")
        return jwt.encode(
            claims,
            snapshot.signing_key,
            algorithm=self._algorithm,
            headers={"typ": ACCESS_TYP_HEADER, "kid": snapshot.signing_kid},
        )

    def decode(self, token: str) -> AccessClaims:
        """Verify signature, header, claims and lifetime; raise InvalidAccessToken otherwise.

        Only the configured algorithm is accepted. With HMAC the key is always
        `SECRET_KEY`; with a key set, `kid` must name a published key of this
        process's set. `jku`, `jwk` and `x5u` are never consulted.
        """
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)))  # oldest first
            self._verified[token] = claims
        now = self._clock.now()
        if (
            claims.expires_at <= now
            or claims.issued_at > now + CLOCK_SKEW
            or (claims.not_before is not None and claims.not_before > now)
        ):
            raise InvalidAccessToken("expired or not yet valid")
        if claims.kid is not None and (
            self._keyring is None or claims.kid not in self._keyring.snapshot.verifying
        ):
            raise InvalidAccessToken("signing key withdrawn")
        return claims

    def _verification_key(self, token: str) -> tuple[Any, str | None]:
        if self._keyring is None:
            return self._key, None
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise InvalidAccessToken(type(exc).__name__) from exc
        key = self._keyring.snapshot.verifying.get(kid) if isinstance(kid, str) else None
        if key is None or not isinstance(kid, str):
            raise InvalidAccessToken("unknown kid")
        return key, kid

    def _verify(self, token: str) -> AccessClaims:
        key, kid = self._verification_key(token)
        try:
            decoded = jwt.api_jwt.decode_complete(
                token,
                key,
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
            nbf = payload.get("nbf")
            not_before = None if nbf is None else datetime.fromtimestamp(int(nbf), UTC)
            return AccessClaims(
                user_id=uuid.UUID(str(payload["sub"])),
                session_id=uuid.UUID(str(payload["sid"])),
                jti=str(payload["jti"]),
                expires_at=exp,
                issued_at=iat,
                not_before=not_before,
                kid=kid,
            )
        except (TypeError, ValueError, OverflowError, OSError) as exc:
            raise InvalidAccessToken("malformed claims") from exc
