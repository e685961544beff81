"""The access-token key set as one process holds it (SPEC §7.3).

Keys are generated and stored by `app/services/signing`; this module knows
only how to make a key pair, render its public JWK, and hold the loaded set:
the key that signs, the keys that verify (the published ones, by kid) and the
JWKS document, rendered once per change so `/.well-known/jwks.json` costs
nothing. A snapshot is replaced whole, never edited, so a request always sees
one consistent set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ASYMMETRIC_ALGORITHMS = frozenset({"ES256", "EdDSA", "RS256"})
RSA_BITS = 2048

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey


def is_asymmetric(algorithm: str) -> bool:
    return algorithm in ASYMMETRIC_ALGORITHMS


def generate_private_key(algorithm: str) -> PrivateKey:
    """A new private key for `algorithm` (ES256: P-256, EdDSA: Ed25519, RS256: RSA-2048)."""
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    raise ValueError(f"not an asymmetric algorithm: {algorithm}")


def private_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_pem(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    ):
        raise ValueError("unsupported key type")
    return key


def public_jwk(key: PrivateKey, *, kid: str, algorithm: str) -> dict[str, str]:
    """The RFC 7517 public JWK of `key`: public parameters only, plus kid, alg and use."""
    public = key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        members = ECAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ed25519.Ed25519PublicKey):
        members = OKPAlgorithm.to_jwk(public, as_dict=True)
    else:
        members = RSAAlgorithm.to_jwk(public, as_dict=True)
    allowed = {"kty", "crv", "x", "y", "n", "e"}
    jwk = {k: str(v) for k, v in members.items() if k in allowed}
    return {**jwk, "kid": kid, "alg": algorithm, "use": "sig"}


def public_key_from_jwk(jwk: dict[str, str]) -> PublicKey:
    text = json.dumps(jwk)
    kty = jwk.get("kty")
    key: Any
    if kty == "EC":
        key = ECAlgorithm.from_jwk(text)
    elif kty == "OKP":
        key = OKPAlgorithm.from_jwk(text)
    elif kty == "RSA":
        key = RSAAlgorithm.from_jwk(text)
    else:
        raise ValueError(f"unsupported kty: {kty}")
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
        raise ValueError("not a public key")
    return key


EMPTY_JWKS = b'{"keys":[]}'


@dataclass(frozen=True, slots=True)
class KeySnapshot:
    """One consistent view of the key set."""

    signing_kid: str | None = None
    signing_key: PrivateKey | None = None
    verifying: dict[str, PublicKey] = field(default_factory=dict)
    jwks: bytes = EMPTY_JWKS


class KeyRing:
    """The loaded key set of this process, replaced whole by the loader."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.snapshot = KeySnapshot()

    @property
    def asymmetric(self) -> bool:
        return is_asymmetric(self.algorithm)

    def install(self, snapshot: KeySnapshot) -> None:
        self.snapshot = snapshot


def render_jwks(jwks: list[dict[str, str]]) -> bytes:
    return json.dumps({"keys": jwks}, separators=(",", ":")).encode()
