"""Signing in with a passkey (SPEC §7.2): usernameless, and multi-factor by itself.

Every refusal is the same 401 `invalid_credentials` and counts nothing toward
the password lockout (the lock guards the password). The reason is kept in
the audit trail only.
"""

from __future__ import annotations

import hmac
from typing import NoReturn

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession
from webauthn import verify_authentication_response

from app.errors import InvalidCredentials
from app.models import AuditEvent, User
from app.repositories.passkeys import PasskeyRepository
from app.schemas.auth import TokenPair
from app.schemas.passkeys import AuthenticationResponseJSON, PublicKeyCredentialRequestOptionsJSON
from app.services import audit
from app.services.context import ClientInfo, ServiceContext
from app.services.passkeys.ceremony import (
    SIGN_IN,
    TIMEOUT_MS,
    RelyingParty,
    canonical_b64url,
    new_challenge,
    spend_challenge,
)
from app.services.signin import (
    AMR_HARDWARE_KEY,
    AMR_MFA,
    AMR_USER,
    SignInMethod,
    finish_sign_in,
    refuse_sign_in,
)

log = structlog.get_logger(__name__)

# RFC 8176: a key held by an authenticator, unlocked by a user-verification gesture.
PASSKEY_AMR = (AMR_HARDWARE_KEY, AMR_USER, AMR_MFA)


async def sign_in_options(ctx: ServiceContext) -> PublicKeyCredentialRequestOptionsJSON:
    """Request options for any account's passkey (empty `allowCredentials`)."""
    challenge = await new_challenge(ctx, SIGN_IN, {})
    return PublicKeyCredentialRequestOptionsJSON(
        challenge=challenge,
        timeout=TIMEOUT_MS,
        rpId=ctx.settings.webauthn_rp_id,
        allowCredentials=[],
    )


class PasskeySignIn:
    def __init__(self, db: AsyncSession, ctx: ServiceContext) -> None:
        self.db = db
        self.ctx = ctx
        self.passkeys = PasskeyRepository(db)
        self.rp = RelyingParty.of(ctx.settings)

    async def verify(
        self, credential: AuthenticationResponseJSON, *, client: ClientInfo
    ) -> TokenPair:
        """Check an assertion and open a session for the passkey's owner."""
        response = credential.response
        spent = await spend_challenge(self.ctx, SIGN_IN, response.clientDataJSON)
        if spent is None:
            await self._refuse(None, client, "challenge")
        credential_id = canonical_b64url(credential.rawId)
        found = await self.passkeys.get_with_owner(credential_id) if credential_id else None
        if found is None:
            await self._refuse(None, client, "unknown_credential")
        passkey, user = found
        if not user.is_active:
            await self._refuse(user, client, "account_disabled")
        if response.userHandle is not None and not _same_handle(response.userHandle, user):
            await self._refuse(user, client, "user_handle")
        try:
            verified = verify_authentication_response(
                credential=credential.model_dump(exclude_none=True),
                expected_challenge=spent.challenge,
                expected_rp_id=self.rp.id,
                expected_origin=self.rp.origins,
                credential_public_key=passkey.public_key,
                # The counter is checked below, once the signature is known to be
                # genuine: a forged response must not pass for a cloned authenticator.
                credential_current_sign_count=0,
                require_user_verification=True,
            )
        # Whatever the library raises on attacker-shaped input is a refused sign-in.
        except Exception as exc:
            log.info("passkey_sign_in_refused", error=type(exc).__name__, detail=str(exc)[:200])
            await self._refuse(user, client, "invalid_response")
        grew = await self.passkeys.record_use(
            passkey.id,
            sign_count=verified.new_sign_count,
            backed_up=verified.credential_backed_up,
            now=self.ctx.clock.now(),
        )
        if not grew:
            audit.record(
                self.db,
                self.ctx.clock,
                AuditEvent.PASSKEY_CLONE_SUSPECTED,
                user_id=user.id,
                client=client,
                details={
                    "passkey_id": str(passkey.id),
                    "stored_sign_count": passkey.sign_count,
                    "presented_sign_count": verified.new_sign_count,
                },
            )
            await self._refuse(user, client, "sign_count")
        return await finish_sign_in(
            self.db, self.ctx, user, client, method=SignInMethod.PASSKEY, amr=PASSKEY_AMR
        )

    async def _refuse(self, user: User | None, client: ClientInfo, reason: str) -> NoReturn:
        await refuse_sign_in(
            self.db, self.ctx, user, client, method=SignInMethod.PASSKEY, reason=reason
        )
        raise InvalidCredentials()


def _same_handle(presented: str, user: User) -> bool:
    handle = canonical_b64url(presented)
    if handle is None or user.passkey_handle is None:
        return False
    return hmac.compare_digest(handle.encode(), user.passkey_handle.encode())
