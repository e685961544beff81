"""Passkey bodies in the WebAuthn Level 3 JSON shapes (SPEC §7.2).

The option objects are exactly what `PublicKeyCredential.parseCreationOptionsFromJSON`
/ `parseRequestOptionsFromJSON` and SimpleWebAuthn's browser library take, and
the credentials are what `PublicKeyCredential.toJSON()` gives back. Field names
are WebAuthn's own (camelCase); binary values are base64url strings.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from app.schemas.common import InputModel, SafeStr


def _base64url(max_length: int, description: str) -> Any:
    return Field(
        min_length=1,
        max_length=max_length,
        pattern=r"^[A-Za-z0-9_-]+={0,2}$",
        description=f"{description} (base64url)",
    )


CredentialId = Annotated[str, _base64url(1400, "Credential id")]


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


# Trimmed before its length is checked: a blank name is no name.
PasskeyName = Annotated[
    SafeStr,
    StringConstraints(min_length=1, max_length=100),
    BeforeValidator(_strip),
    Field(examples=["Work laptop"]),
]

CHALLENGE_EXAMPLE = "q6v2k0X8vS9bYtq6yq0CqRkqgS3n7m1Zr9Qe0tY4w8A"
CREDENTIAL_ID_EXAMPLE = (
    "AdKXJEch1aV5Wo7bj7qLHskVY4OoNaj9qu8TPdJ7kSAgUeRxWNngXlcNIGt4gexZGKVGcqZpqqWordXb_he1izY"
)


# Options (server -> browser) ------------------------------------------------------


class PublicKeyCredentialRpEntity(BaseModel):
    id: str = Field(description="WEBAUTHN_RP_ID", examples=["example.com"])
    name: str = Field(description="APP_NAME", examples=["Auth backend"])


class PublicKeyCredentialUserEntityJSON(BaseModel):
    id: str = Field(
        description="The account's opaque user handle (base64url): not its email, not its id",
        examples=["Vq3nJ9s0x4eYb2Qm7TqL1cZr8uW5kHa6dPfG0iN3oSE"],
    )
    name: str = Field(examples=["ada@example.com"])
    displayName: str = Field(examples=["Ada Lovelace"])


class PublicKeyCredentialParameters(BaseModel):
    type: Literal["public-key"] = "public-key"
    alg: int = Field(description="COSE algorithm: -7 ES256, -8 EdDSA, -257 RS256", examples=[-7])


class PublicKeyCredentialDescriptorJSON(BaseModel):
    id: str = Field(description="Credential id (base64url)", examples=[CREDENTIAL_ID_EXAMPLE])
    type: Literal["public-key"] = "public-key"
    transports: list[str] | None = Field(default=None, examples=[["internal", "hybrid"]])


class AuthenticatorSelectionCriteria(BaseModel):
    residentKey: Literal["required"] = "required"
    requireResidentKey: Literal[True] = True
    userVerification: Literal["required"] = "required"


class PublicKeyCredentialCreationOptionsJSON(BaseModel):
    """`navigator.credentials.create()` options, for `parseCreationOptionsFromJSON`."""

    rp: PublicKeyCredentialRpEntity
    user: PublicKeyCredentialUserEntityJSON
    challenge: str = Field(
        description="Single use, 5 minutes (base64url)", examples=[CHALLENGE_EXAMPLE]
    )
    pubKeyCredParams: list[PublicKeyCredentialParameters]
    timeout: int = Field(description="Milliseconds", examples=[300000])
    excludeCredentials: list[PublicKeyCredentialDescriptorJSON] = Field(
        description="The account's passkeys, so an authenticator does not register twice"
    )
    authenticatorSelection: AuthenticatorSelectionCriteria
    attestation: Literal["none"] = "none"


class PublicKeyCredentialRequestOptionsJSON(BaseModel):
    """`navigator.credentials.get()` options, for `parseRequestOptionsFromJSON`."""

    challenge: str = Field(
        description="Single use, 5 minutes (base64url)", examples=[CHALLENGE_EXAMPLE]
    )
    timeout: int = Field(description="Milliseconds", examples=[300000])
    rpId: str = Field(examples=["example.com"])
    allowCredentials: list[PublicKeyCredentialDescriptorJSON] = Field(
        description="Always empty: discoverable credentials, the authenticator offers the accounts"
    )
    userVerification: Literal["required"] = "required"


# Credentials (browser -> server) ---------------------------------------------------


class _CredentialPart(BaseModel):
    # Browsers add members over time (WebAuthn Level 3 added several): ignore them.
    model_config = ConfigDict(extra="ignore")


class AuthenticatorAttestationResponseJSON(_CredentialPart):
    clientDataJSON: Annotated[str, _base64url(8192, "Client data JSON")]
    attestationObject: Annotated[str, _base64url(48_000, "Attestation object")]
    authenticatorData: Annotated[str, _base64url(16_000, "Authenticator data")] | None = None
    transports: list[Annotated[str, Field(max_length=32)]] = Field(default=[], max_length=16)
    publicKey: Annotated[str, _base64url(8192, "Public key (SPKI)")] | None = None
    publicKeyAlgorithm: int | None = None


class RegistrationResponseJSON(_CredentialPart):
    """What `PublicKeyCredential.toJSON()` gives after `navigator.credentials.create()`."""

    id: CredentialId
    rawId: CredentialId
    response: AuthenticatorAttestationResponseJSON
    authenticatorAttachment: Literal["platform", "cross-platform"] | None = None
    clientExtensionResults: dict[str, Any] = Field(default={})
    type: Literal["public-key"]


class AuthenticatorAssertionResponseJSON(_CredentialPart):
    clientDataJSON: Annotated[str, _base64url(8192, "Client data JSON")]
    authenticatorData: Annotated[str, _base64url(16_000, "Authenticator data")]
    signature: Annotated[str, _base64url(2048, "Signature")]
    userHandle: Annotated[str, _base64url(128, "User handle")] | None = None


class AuthenticationResponseJSON(_CredentialPart):
    """What `PublicKeyCredential.toJSON()` gives after `navigator.credentials.get()`."""

    id: CredentialId
    rawId: CredentialId
    response: AuthenticatorAssertionResponseJSON
    authenticatorAttachment: Literal["platform", "cross-platform"] | None = None
    clientExtensionResults: dict[str, Any] = Field(default={})
    type: Literal["public-key"]


# Request and response bodies --------------------------------------------------------


class PasskeyRegisterIn(InputModel):
    credential: RegistrationResponseJSON
    name: PasskeyName | None = Field(
        default=None, description="Default: the authenticator's name where known, else `Passkey`"
    )


class PasskeyLoginIn(InputModel):
    credential: AuthenticationResponseJSON


class PasskeyRenameIn(InputModel):
    name: PasskeyName


class PasskeyOut(BaseModel):
    id: uuid.UUID = Field(examples=["9a0c3e5f-2b7d-4e1a-8c6f-0d2b4a6e8c1f"])
    name: str = Field(examples=["iCloud Keychain"])
    created_at: datetime = Field(examples=["2026-01-01T12:00:00Z"])
    last_used_at: datetime | None = Field(examples=["2026-01-02T08:15:00Z"])
    backed_up: bool = Field(
        description="Synced to a cloud account (survives the loss of one device)", examples=[True]
    )
    transports: list[str] = Field(examples=[["internal", "hybrid"]])
