"""Registering a passkey to the signed-in account (SPEC §7.2)."""

from __future__ import annotations

import secrets
import uuid

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession
from webauthn import verify_registration_response
from webauthn.helpers.structs import AuthenticatorTransport, CredentialDeviceType

from app.errors import InvalidPasskey, NotFound
from app.models import AuditEvent, Passkey
from app.repositories.passkeys import PasskeyRepository
from app.schemas.passkeys import (
    AuthenticatorSelectionCriteria,
    PasskeyOut,
    PublicKeyCredentialCreationOptionsJSON,
    PublicKeyCredentialParameters,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntityJSON,
    RegistrationResponseJSON,
)
from app.services import audit
from app.services.context import ClientInfo, ServiceContext
from app.services.passkeys.aaguids import default_name
from app.services.passkeys.ceremony import (
    ALGORITHMS,
    REGISTER,
    TIMEOUT_MS,
    RelyingParty,
    b64url,
    canonical_b64url,
    new_challenge,
    spend_challenge,
)
from app.services.passkeys.credentials import descriptor, passkey_out
from app.services.principals import Principal

log = structlog.get_logger(__name__)

HANDLE_BYTES = 32
_TRANSPORTS = frozenset(transport.value for transport in AuthenticatorTransport)


class PasskeyRegistration:
    def __init__(self, db: AsyncSession, ctx: ServiceContext) -> None:
        self.db = db
        self.ctx = ctx
        self.passkeys = PasskeyRepository(db)
        self.rp = RelyingParty.of(ctx.settings)

    async def options(self, principal: Principal) -> PublicKeyCredentialCreationOptionsJSON:
        """Creation options for a new passkey, with a challenge bound to this user."""
        user = principal.user
        handle = await self._user_handle(user.id)
        existing = await self.passkeys.list_for_user(user.id)
        challenge = await new_challenge(self.ctx, REGISTER, {"user_id": str(user.id)})
        return PublicKeyCredentialCreationOptionsJSON(
            rp=PublicKeyCredentialRpEntity(id=self.rp.id, name=self.rp.name),
            user=PublicKeyCredentialUserEntityJSON(
                id=handle, name=user.email, displayName=user.full_name or user.email
            ),
            challenge=challenge,
            pubKeyCredParams=[PublicKeyCredentialParameters(alg=alg.value) for alg in ALGORITHMS],
            timeout=TIMEOUT_MS,
            excludeCredentials=[descriptor(passkey) for passkey in existing],
            authenticatorSelection=AuthenticatorSelectionCriteria(),
        )

    async def _user_handle(self, user_id: uuid.UUID) -> str:
        """The user's WebAuthn handle, made on first use. Concurrent first uses
        agree: only the first handle written is kept."""
        handle = await self.passkeys.handle_of(user_id)
        if handle is None:
            await self.passkeys.claim_handle(user_id, b64url(secrets.token_bytes(HANDLE_BYTES)))
            await self.db.commit()
            handle = await self.passkeys.handle_of(user_id)
        if handle is None:  # the account was deleted meanwhile
            raise NotFound("User not found")
        return handle

    async def verify(
        self,
        principal: Principal,
        credential: RegistrationResponseJSON,
        *,
        name: str | None,
        client: ClientInfo,
    ) -> PasskeyOut:
        """Check an attestation against its challenge and store the new passkey."""
        user_id = principal.user.id
        spent = await spend_challenge(self.ctx, REGISTER, credential.response.clientDataJSON)
        if spent is None or spent.payload.get("user_id") != str(user_id):
            raise InvalidPasskey()
        try:
            verified = verify_registration_response(
                credential=credential.model_dump(exclude_none=True),
                expected_challenge=spent.challenge,
                expected_rp_id=self.rp.id,
                expected_origin=self.rp.origins,
                require_user_presence=True,
                require_user_verification=True,
                supported_pub_key_algs=list(ALGORITHMS),
            )
        # Whatever the library raises on attacker-shaped input is a refused passkey.
        except Exception as exc:
            log.info(
                "passkey_registration_refused", error=type(exc).__name__, detail=str(exc)[:200]
            )
            raise InvalidPasskey() from exc
        credential_id = b64url(verified.credential_id)
        if credential_id != canonical_b64url(credential.rawId):
            raise InvalidPasskey()
        if await self.passkeys.get_by_credential_id(credential_id) is not None:
            raise InvalidPasskey("This passkey is already registered")
        passkey = Passkey(
            user_id=user_id,
            credential_id=credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            name=name or default_name(verified.aaguid),
            aaguid=verified.aaguid,
            transports=_known_transports(credential.response.transports),
            backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
            backed_up=verified.credential_backed_up,
            created_at=self.ctx.clock.now(),
        )
        try:
            await self.passkeys.add(passkey)
        except IntegrityError as exc:  # registered concurrently
            await self.db.rollback()
            raise InvalidPasskey("This passkey is already registered") from exc
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.PASSKEY_ADDED,
            user_id=user_id,
            actor_id=user_id,
            client=client,
            details={"passkey_id": str(passkey.id), "name": passkey.name, "aaguid": passkey.aaguid},
        )
        await self.db.commit()
        return passkey_out(passkey)


def _known_transports(transports: list[str]) -> list[str]:
    return list(dict.fromkeys(t for t in transports if t in _TRANSPORTS))
