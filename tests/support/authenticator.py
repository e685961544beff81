"""A software WebAuthn authenticator: real attestation and assertion responses, built
in Python, so API tests can drive both passkey ceremonies and break each check.

It answers creation and request options (the service's JSON) with what
`PublicKeyCredential.toJSON()` gives in a browser. Keys come from `cryptography`
(ES256, EdDSA or RS256), CBOR from `cbor2`. Every part of a response can be
overridden to produce a response the service must refuse.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any, Literal

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

Algorithm = Literal["ES256", "EdDSA", "RS256"]

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def from_b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


class Key:
    """A credential key pair: its COSE public key and how it signs."""

    def __init__(self, algorithm: Algorithm = "ES256") -> None:
        self.algorithm = algorithm
        if algorithm == "ES256":
            self._ec = ec.generate_private_key(ec.SECP256R1())
        elif algorithm == "EdDSA":
            self._ed = ed25519.Ed25519PrivateKey.generate()
        else:
            self._rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def cose(self) -> bytes:
        if self.algorithm == "ES256":
            numbers = self._ec.public_key().public_numbers()
            return cbor2.dumps(
                {
                    1: 2,
                    3: -7,
                    -1: 1,
                    -2: numbers.x.to_bytes(32, "big"),
                    -3: numbers.y.to_bytes(32, "big"),
                }
            )
        if self.algorithm == "EdDSA":
            raw = self._ed.public_key().public_bytes_raw()
            return cbor2.dumps({1: 1, 3: -8, -1: 6, -2: raw})
        rsa_numbers = self._rsa.public_key().public_numbers()
        n = rsa_numbers.n.to_bytes((rsa_numbers.n.bit_length() + 7) // 8, "big")
        return cbor2.dumps({1: 3, 3: -257, -1: n, -2: rsa_numbers.e.to_bytes(3, "big")})

    def sign(self, data: bytes) -> bytes:
        if self.algorithm == "ES256":
            return self._ec.sign(data, ec.ECDSA(hashes.SHA256()))
        if self.algorithm == "EdDSA":
            return self._ed.sign(data)
        return self._rsa.sign(data, padding.PKCS1v15(), hashes.SHA256())


@dataclass
class Authenticator:
    """One authenticator holding one discoverable credential for one relying party."""

    origin: str = "http://frontend.test"
    algorithm: Algorithm = "ES256"
    aaguid: bytes = bytes(16)
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    sign_count: int = 0
    # Counters grow by this much per assertion; 0 = no counter (synced passkeys).
    counter_step: int = 0
    backup_eligible: bool = False
    backed_up: bool = False
    user_handle: bytes | None = None
    key: Key = field(init=False)

    def __post_init__(self) -> None:
        self.key = Key(self.algorithm)

    @property
    def id(self) -> str:
        return b64url(self.credential_id)

    # Registration -----------------------------------------------------------------

    def register(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        type: str = "webauthn.create",
        challenge: str | None = None,
        rp_id: str | None = None,
        flags: int | None = None,
        fmt: str = "none",
        att_stmt: dict[str, Any] | None = None,
        transports: list[str] | None = None,
    ) -> dict[str, Any]:
        """A `RegistrationResponseJSON` answering creation `options`."""
        self.user_handle = from_b64url(options["user"]["id"])
        client_data = self._client_data(type, challenge or options["challenge"], origin)
        attested = (
            self.aaguid
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self.key.cose()
        )
        auth_data = self._auth_data(
            rp_id or options["rp"]["id"], self._flags(flags) | AT, self.sign_count, attested
        )
        attestation = cbor2.dumps({"fmt": fmt, "attStmt": att_stmt or {}, "authData": auth_data})
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "authenticatorData": b64url(auth_data),
                "transports": ["internal", "hybrid"] if transports is None else transports,
                "publicKeyAlgorithm": {"ES256": -7, "EdDSA": -8, "RS256": -257}[self.algorithm],
            },
        }

    # Sign-in ------------------------------------------------------------------------

    def sign_in(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        type: str = "webauthn.get",
        challenge: str | None = None,
        rp_id: str | None = None,
        flags: int | None = None,
        sign_count: int | None = None,
        user_handle: bytes | None | Literal["omit"] = None,
        signer: Key | None = None,
    ) -> dict[str, Any]:
        """An `AuthenticationResponseJSON` answering request `options`."""
        if sign_count is None:
            self.sign_count += self.counter_step
            sign_count = self.sign_count
        client_data = self._client_data(type, challenge or options["challenge"], origin)
        auth_data = self._auth_data(rp_id or options["rpId"], self._flags(flags), sign_count)
        signature = (signer or self.key).sign(auth_data + hashlib.sha256(client_data).digest())
        handle = self.user_handle if user_handle is None else user_handle
        response: dict[str, Any] = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
        }
        if handle != "omit" and handle is not None:
            response["userHandle"] = b64url(handle)
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": response,
        }

    # Parts ----------------------------------------------------------------------------

    def _client_data(self, type: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {
                "type": type,
                "challenge": challenge,
                "origin": origin or self.origin,
                "crossOrigin": False,
            }
        ).encode()

    def _flags(self, flags: int | None) -> int:
        if flags is not None:
            return flags
        value = UP | UV
        if self.backup_eligible:
            value |= BE
        if self.backed_up:
            value |= BS
        return value

    @staticmethod
    def _auth_data(rp_id: str, flags: int, sign_count: int, attested: bytes = b"") -> bytes:
        rp_id_hash = hashlib.sha256(rp_id.encode()).digest()
        return rp_id_hash + bytes([flags]) + struct.pack(">I", sign_count) + attested
