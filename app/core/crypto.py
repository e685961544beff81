"""Data encrypted at rest (SPEC §7): TOTP secrets, private signing keys, webhook secrets.

AES-256-GCM under keys that no database dump holds. Key material comes from
`DATA_ENCRYPTION_KEY` (a list: the first key encrypts, every key decrypts),
else from `PASSWORD_PEPPER`. Either way each purpose gets its own key, derived
with HKDF-SHA256 and the purpose as label, so the key of one kind of secret
never opens another kind. `SECRET_KEY` is never used: rotating it must not
make stored data unreadable.

A ciphertext reads `v1.<key id>.<base64url(nonce | ciphertext | tag)>`. The key
id (the first 8 hex digits of SHA-256 over the derived key) names the key
that encrypted it and reveals nothing about it. The purpose and a caller's
context (such as the owning row's id) are bound as associated data, so a
ciphertext copied to another row or used for another purpose fails to open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Sequence
from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
NONCE_BYTES = 12
KEY_BYTES = 32
SALT = b"auth-backend/data-at-rest/v1"


class Purpose(StrEnum):
    """One label per kind of secret; each derives its own key."""

    TOTP_SECRET = "totp-secret"
    SIGNING_KEY = "signing-key"
    WEBHOOK_SECRET = "webhook-secret"
    REFRESH_SUCCESSOR = "refresh-successor"


class DecryptionError(Exception):
    """The ciphertext is malformed, tampered with, or under a key we do not hold."""


class _Mac:
    """An HMAC-SHA256 keyed once; each use copies the keyed state."""

    def __init__(self, key: bytes) -> None:
        # A separate label from the AES key of the same purpose: one key, one use.
        self._keyed = hmac.new(key, b"mac|", hashlib.sha256)

    def copy_with(self, data: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(data)
        return mac.digest()


def _derive(material: bytes, purpose: Purpose) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=SALT,
        info=f"auth-backend/{purpose.value}".encode(),
    )
    return hkdf.derive(material)


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def _associated(purpose: Purpose, context: str) -> bytes:
    return f"{purpose.value}|{context}".encode("utf-8", "surrogatepass")


class DataCipher:
    """Encrypts and decrypts small secrets for storage in the database.

    `keys` is the key material in order: the first encrypts, every one
    decrypts (so a new key can be put first and the old one kept until the
    data has been written again under the new one).
    """

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._materials = tuple(keys)
        self._derived: dict[Purpose, tuple[str, dict[str, AESGCM]]] = {}
        self._macs: dict[Purpose, _Mac] = {}

    def _keys(self, purpose: Purpose) -> tuple[str, dict[str, AESGCM]]:
        found = self._derived.get(purpose)
        if found is None:
            derived = [_derive(material, purpose) for material in self._materials]
            by_id: dict[str, AESGCM] = {}
            for key in derived:
                by_id.setdefault(_key_id(key), AESGCM(key))
            found = (_key_id(derived[0]), by_id)
            self._derived[purpose] = found
        return found

    def encrypt(self, purpose: Purpose, plaintext: bytes, *, context: str = "") -> str:
        """Encrypt under the first key; `context` must be given again to decrypt."""
        key_id, keys = self._keys(purpose)
        nonce = os.urandom(NONCE_BYTES)
        sealed = keys[key_id].encrypt(nonce, plaintext, _associated(purpose, context))
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{VERSION}.{key_id}.{body}"

    def decrypt(self, purpose: Purpose, ciphertext: str, *, context: str = "") -> bytes:
        """Open a ciphertext made by `encrypt` with any of the keys held."""
        version, _, rest = ciphertext.partition(".")
        key_id, _, body = rest.partition(".")
        keys = self._keys(purpose)[1]
        aead = keys.get(key_id)
        if version != VERSION or aead is None or not body:
            raise DecryptionError("unknown format or key")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError) as exc:
            raise DecryptionError("malformed ciphertext") from exc
        if len(raw) <= NONCE_BYTES:
            raise DecryptionError("malformed ciphertext")
        try:
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated(purpose, context))
        except InvalidTag as exc:
            raise DecryptionError("tampered ciphertext, or another context") from exc

    def mac(self, purpose: Purpose, data: bytes) -> bytes:
        """HMAC-SHA256 of `data` under the purpose's encrypting key: a value only this
        service can compute from `data` (e.g. a refresh token's successor)."""
        return self._mac_keys(purpose).copy_with(data)

    def _mac_keys(self, purpose: Purpose) -> _Mac:
        found = self._macs.get(purpose)
        if found is None:
            found = _Mac(_derive(self._materials[0], purpose))
            self._macs[purpose] = found
        return found

    def is_current(self, purpose: Purpose, ciphertext: str) -> bool:
        """True when `ciphertext` is under the key that encrypts now (no rewrite needed)."""
        return ciphertext.split(".", 2)[1:2] == [self._keys(purpose)[0]]


def cipher_from_keys(data_keys: Sequence[bytes], pepper: bytes) -> DataCipher:
    """The service's cipher: DATA_ENCRYPTION_KEY's keys, else the pepper.

    With DATA_ENCRYPTION_KEY set, the pepper stays the last decrypting key, so
    data written before the setting existed remains readable; it is written
    again under the new key the next time it changes.
    """
    return DataCipher([*data_keys, pepper] if data_keys else [pepper])
