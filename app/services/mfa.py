"""The second factor (SPEC §7.1): TOTP enrolment, recovery codes, step-up, and the
second step of a sign-in that the gate (app/services/signin.py) stopped.

- TOTP (RFC 6238 through pyotp): SHA-1, 6 digits, 30 s steps, the previous and
  next step accepted. A step once accepted is claimed in the shared store
  (Redis when configured), so no worker accepts it again for that account.
- Secrets are encrypted with the data-at-rest cipher, bound to the user's id.
- Recovery codes: 10 per set, 10 characters from an alphabet without
  look-alikes, stored as HMACs keyed with the password pepper; each is spent
  by one conditional UPDATE, so two concurrent uses cannot both pass.
- No step here runs bcrypt.
"""

from __future__ import annotations

import hmac
import io
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import NoReturn
from urllib.parse import quote

import pyotp
import segno
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.crypto import DecryptionError, Purpose
from app.core.security import keyed_hash
from app.errors import (
    AccountLocked,
    InvalidMfaCode,
    InvalidToken,
    MfaAlreadyEnabled,
    NotFound,
)
from app.models import AuditEvent, User
from app.repositories.mfa import RecoveryCodeRepository
from app.repositories.users import UserRepository
from app.schemas.auth import TokenPair
from app.schemas.mfa import MfaStatusOut, TotpSetupOut
from app.services import audit
from app.services.challenges import Challenges
from app.services.context import ClientInfo, ServiceContext
from app.services.email import EmailService
from app.services.limits import check_account_limit
from app.services.lockout import Lockout
from app.services.principals import Principal
from app.services.sessions import SessionService
from app.services.signin import (
    AMR_MFA,
    AMR_OTP,
    MFA_CHALLENGE,
    MFA_MAX_ATTEMPTS,
    MFA_TOKEN_TTL_SECONDS,
    SignInMethod,
    finish_sign_in,
)
from app.utils.url_utils import frontend_link

STEP_SECONDS = 30
DIGITS = 6
# A step is acceptable while the clock is within one step of it: claimed for longer.
STEP_CLAIM_TTL = 4 * STEP_SECONDS
RECOVERY_CODES = 10
RECOVERY_LENGTH = 10
# No 0/o, 1/i/l: nothing to misread when typed from paper.
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
# Wrong codes for a signed-in user (step-up, disable, regenerate) share a per-account budget.
STEP_UP_LIMIT = "mfa-step-up"
SECURITY_PAGE = "/settings/security"
SIGN_IN_PAGE = "/login"


class Factor(StrEnum):
    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"


@dataclass(frozen=True, slots=True)
class Accepted:
    """A code that passed: which kind, and (recovery) how many unused codes are left."""

    factor: Factor
    left: int | None = None


def new_secret() -> str:
    """20 random bytes, base32 without padding (32 characters)."""
    return pyotp.random_base32(32)


def otpauth_uri(issuer: str, email: str, secret: str) -> str:
    label = f"{quote(issuer, safe='')}:{quote(email, safe='')}"
    return (
        f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer, safe='')}"
        f"&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
    )


def qr_svg(uri: str) -> str:
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, border=4, xmldecl=False)
    return out.getvalue().decode()


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalise_recovery_code(code: str) -> str | None:
    """The canonical form of a recovery code as typed (any case, dash or spaces), or None."""
    compact = "".join(code.split()).replace("-", "").lower()
    if len(compact) != RECOVERY_LENGTH or any(ch not in RECOVERY_ALPHABET for ch in compact):
        return None
    return compact


def _totp_code(code: str) -> str | None:
    compact = "".join(code.split())
    if len(compact) == DIGITS and compact.isascii() and compact.isdigit():
        return compact
    return None


class SecondFactor:
    """Checks a user's codes (TOTP or recovery); the caller commits."""

    def __init__(self, db: AsyncSession, ctx: ServiceContext) -> None:
        self.db = db
        self.ctx = ctx
        self.codes = RecoveryCodeRepository(db)

    # Secrets and hashes -------------------------------------------------------

    def seal(self, user: User, secret: str) -> str:
        return self.ctx.cipher.encrypt(Purpose.TOTP_SECRET, secret.encode(), context=str(user.id))

    def open(self, user: User, sealed: str) -> str | None:
        try:
            return self.ctx.cipher.decrypt(
                Purpose.TOTP_SECRET, sealed, context=str(user.id)
            ).decode()
        except DecryptionError:
            return None

    def recovery_hash(self, user_id: uuid.UUID, normalised: str) -> str:
        return keyed_hash(self.ctx.settings.password_pepper, f"mfa-recovery:{user_id}:{normalised}")

    async def new_recovery_codes(self, user: User) -> list[str]:
        """A new set for `user`; every older code dies."""
        codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
        # Hashed in the form a typed code is checked in (new codes are always well formed).
        hashes = [self.recovery_hash(user.id, normalise_recovery_code(c) or c) for c in codes]
        await self.codes.replace(user.id, hashes, self.ctx.clock.now())
        return codes

    # Checking -----------------------------------------------------------------

    async def check_totp(self, user: User, sealed: str | None, code: str) -> bool:
        """True for a code of the previous, current or next step not accepted before."""
        digits = _totp_code(code)
        secret = self.open(user, sealed) if sealed else None
        if digits is None or secret is None:
            return False
        totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
        now = self.ctx.clock.now().timestamp()
        matched: int | None = None
        for offset in (-1, 0, 1):
            at = now + offset * STEP_SECONDS
            if hmac.compare_digest(totp.at(at), digits):
                matched = int(at // STEP_SECONDS)
        if matched is None:
            return False
        # One acceptance per step and account, for every worker (SET NX in Redis).
        key = f"mfa:step:{user.id}:{matched}"
        return await self.ctx.store.set_if_absent(key, "1", ttl=STEP_CLAIM_TTL)

    async def check(self, user: User, code: str) -> Accepted | None:
        """Accept a TOTP code or spend an unused recovery code of `user` (TOTP on)."""
        if await self.check_totp(user, user.totp_secret, code):
            return Accepted(Factor.TOTP)
        normalised = normalise_recovery_code(code)
        if normalised is None or user.totp_secret is None:
            return None
        spent = await self.codes.spend(
            user.id, self.recovery_hash(user.id, normalised), self.ctx.clock.now()
        )
        if not spent:
            return None
        return Accepted(Factor.RECOVERY_CODE, left=await self.codes.count_unused(user.id))

    async def require(
        self, user: User, code: str | None, client: ClientInfo, *, action: str
    ) -> Accepted:
        """Step-up for a signed-in user: a valid code or 400 invalid_mfa_code (audited).

        Attempts share a per-account budget, so a stolen access token cannot
        try every code.
        """
        await check_account_limit(self.ctx, STEP_UP_LIMIT, user.email)
        accepted = await self.check(user, code) if code else None
        if accepted is None:
            await self.failed(user, client, action, "missing_code" if not code else "wrong_code")
        if accepted.factor is Factor.RECOVERY_CODE:
            self.record_recovery_use(user, accepted, client, action=action)
        return accepted

    def record_recovery_use(
        self, user: User, accepted: Accepted, client: ClientInfo, *, action: str
    ) -> None:
        details: dict[str, object] = {"action": action, "left": accepted.left}
        self.audit(user, AuditEvent.MFA_RECOVERY_CODE_USED, client, details)

    async def failed(
        self, user: User, client: ClientInfo, action: str, reason: str | None = None
    ) -> NoReturn:
        """Audit a refused code for `action` (commit it), then 400 invalid_mfa_code."""
        details: dict[str, object] = {"action": action}
        if reason:
            details["reason"] = reason
        self.audit(user, AuditEvent.MFA_CHALLENGE_FAILED, client, details)
        await self.db.commit()
        raise InvalidMfaCode()

    def audit(
        self,
        user: User,
        event: AuditEvent,
        client: ClientInfo,
        details: dict[str, object] | None = None,
    ) -> None:
        """Record `event` about the signed-in user, who is also its actor."""
        audit.record(
            self.db,
            self.ctx.clock,
            event,
            user_id=user.id,
            actor_id=user.id,
            client=client,
            details=details or {},
        )

    def mail_recovery_use(self, user: User, left: int, client: ClientInfo) -> None:
        """After the commit: tell the owner a recovery code was used, and how many are left."""
        mail = EmailService(self.ctx)
        link = frontend_link(self.ctx.settings.FRONTEND_BASE_URL, SECURITY_PAGE)
        message = mail.message(user, "mfa_recovery_code_used", link=link, left=left)
        self.ctx.background.submit(
            "email:mfa", lambda: mail.send(message, user.id, "mfa_recovery_code_used", client)
        )


class MfaService:
    def __init__(self, db: AsyncSession, ctx: ServiceContext) -> None:
        self.db = db
        self.ctx = ctx
        self.users = UserRepository(db)
        self.factor = SecondFactor(db, ctx)

    async def _user(self, principal: Principal) -> User:
        user = await self.users.get(principal.user.id)
        if user is None:
            raise NotFound("User not found")
        return user

    async def status(self, principal: Principal) -> MfaStatusOut:
        user = await self._user(principal)
        left = await self.factor.codes.count_unused(user.id) if user.mfa_enabled else 0
        return MfaStatusOut(totp_enabled=user.mfa_enabled, recovery_codes_left=left)

    async def setup(self, principal: Principal) -> TotpSetupOut:
        """A new pending secret (replacing an earlier pending one); 409 when TOTP is on."""
        user = await self._user(principal)
        if user.mfa_enabled:
            raise MfaAlreadyEnabled()
        secret = new_secret()
        user.totp_pending_secret = self.factor.seal(user, secret)
        user.updated_at = self.ctx.clock.now()
        self.db.add(user)
        await self.db.commit()
        uri = otpauth_uri(self.ctx.settings.APP_NAME, user.email, secret)
        return TotpSetupOut(secret=secret, otpauth_uri=uri, qr_svg=qr_svg(uri))

    async def confirm(self, principal: Principal, code: str, client: ClientInfo) -> list[str]:
        """Turn TOTP on with a code of the pending secret; the recovery codes, once."""
        user = await self._user(principal)
        await check_account_limit(self.ctx, STEP_UP_LIMIT, user.email)
        pending = user.totp_pending_secret
        if user.mfa_enabled or pending is None:
            raise InvalidMfaCode()
        if not await self.factor.check_totp(user, pending, code):
            await self.factor.failed(user, client, "confirm")
        user.totp_secret = pending
        user.totp_pending_secret = None
        user.updated_at = self.ctx.clock.now()
        self.db.add(user)
        codes = await self.factor.new_recovery_codes(user)
        self.factor.audit(user, AuditEvent.MFA_ENABLED, client)
        await self.db.commit()
        await self.ctx.principals.forget_user(user.id)
        return codes

    async def disable(self, principal: Principal, code: str, client: ClientInfo) -> None:
        """Turn TOTP off with a TOTP code or a recovery code; the recovery codes go too."""
        user = await self._enabled_user(principal)
        accepted = await self.factor.require(user, code, client, action="disable")
        await self._turn_off(user)
        self.factor.audit(user, AuditEvent.MFA_DISABLED, client, {"with": accepted.factor.value})
        await self.db.commit()
        await self.ctx.principals.forget_user(user.id)
        if accepted.factor is Factor.RECOVERY_CODE:
            self.factor.mail_recovery_use(user, 0, client)

    async def regenerate(self, principal: Principal, code: str, client: ClientInfo) -> list[str]:
        """A new set of recovery codes; every older one dies."""
        user = await self._enabled_user(principal)
        accepted = await self.factor.require(user, code, client, action="regenerate")
        codes = await self.factor.new_recovery_codes(user)
        self.factor.audit(user, AuditEvent.MFA_RECOVERY_CODES_REGENERATED, client)
        await self.db.commit()
        if accepted.factor is Factor.RECOVERY_CODE:
            self.factor.mail_recovery_use(user, len(codes), client)
        return codes

    async def admin_reset(self, admin: Principal, user_id: uuid.UUID, client: ClientInfo) -> None:
        """For a user who lost the device: TOTP off, codes gone, sessions revoked, user mailed."""
        user = await self.users.get(user_id)
        if user is None:
            raise NotFound("User not found")
        was_on = user.mfa_enabled
        await self._turn_off(user)
        revoked = await SessionService(self.db, self.ctx).revoke_all(user.id, reason="mfa_reset")
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.MFA_RESET,
            user_id=user.id,
            actor_id=admin.user.id,
            client=client,
            details={"was_enabled": was_on, "sessions_revoked": len(revoked)},
        )
        await self.db.commit()
        await self.ctx.principals.forget_user(user.id)
        mail = EmailService(self.ctx)
        link = frontend_link(self.ctx.settings.FRONTEND_BASE_URL, SIGN_IN_PAGE)
        message = mail.message(user, "mfa_reset", link=link)
        self.ctx.background.submit(
            "email:mfa", lambda: mail.send(message, user.id, "mfa_reset", client)
        )

    async def _enabled_user(self, principal: Principal) -> User:
        user = await self._user(principal)
        if not user.mfa_enabled:
            raise InvalidMfaCode("Two-factor authentication is not on")
        return user

    async def _turn_off(self, user: User) -> None:
        user.totp_secret = None
        user.totp_pending_secret = None
        user.updated_at = self.ctx.clock.now()
        self.db.add(user)
        await self.factor.codes.delete_all(user.id)


class MfaSignIn:
    """`/auth/mfa/verify`: the second step of a sign-in stopped by the gate."""

    def __init__(self, db: AsyncSession, ctx: ServiceContext) -> None:
        self.db = db
        self.ctx = ctx
        self.factor = SecondFactor(db, ctx)
        self.challenges = Challenges(ctx.store)
        self.lockout = Lockout(ctx.store, ctx.settings, ctx.clock)

    async def verify(self, *, mfa_token: str, code: str, client: ClientInfo) -> TokenPair:
        payload = await self.challenges.peek(MFA_CHALLENGE, mfa_token)
        user = await self._user_of(payload)
        if payload is None or user is None:
            raise InvalidToken()
        # Shares login's per-account budget (the per-client one is the middleware's).
        await check_account_limit(self.ctx, "login", user.email)
        locked_until = await self.lockout.locked_until(user.email)
        if locked_until is not None:
            raise AccountLocked(locked_until)
        accepted = await self.factor.check(user, code)
        if accepted is None:
            await self._wrong_code(user, mfa_token, client)
        # The token is spent last, in the same breath as the session opens: of two
        # concurrent verifications one gets it, and a recovery code spent by the
        # loser is rolled back with its transaction.
        if await self.challenges.consume(MFA_CHALLENGE, mfa_token) is None:
            await self.db.rollback()
            raise InvalidToken()
        await self.lockout.clear(user.email)
        amr = [str(value) for value in payload.get("amr", [])]
        if accepted.factor is Factor.TOTP:
            amr += [AMR_OTP, AMR_MFA]
        else:
            amr.append(AMR_MFA)
            self.factor.record_recovery_use(user, accepted, client, action="sign_in")
        method = SignInMethod(payload.get("method", SignInMethod.PASSWORD.value))
        pair = await finish_sign_in(self.db, self.ctx, user, client, method=method, amr=amr)
        if accepted.factor is Factor.RECOVERY_CODE:
            self.factor.mail_recovery_use(user, accepted.left or 0, client)
        return pair

    async def _user_of(self, payload: dict[str, object] | None) -> User | None:
        if payload is None:
            return None
        try:
            user_id = uuid.UUID(str(payload["user_id"]))
        except (KeyError, ValueError):
            return None
        user = await UserRepository(self.db).get(user_id)
        if user is None or not user.is_active or not user.mfa_enabled:
            return None
        return user

    async def _wrong_code(self, user: User, mfa_token: str, client: ClientInfo) -> NoReturn:
        """A wrong code: counts against the token (5 kill it) and the account's lockout."""
        died = await self.challenges.fail(
            MFA_CHALLENGE, mfa_token, max_attempts=MFA_MAX_ATTEMPTS, ttl=MFA_TOKEN_TTL_SECONDS
        )
        _, newly_locked = await self.lockout.record_failure(user.email)
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.MFA_CHALLENGE_FAILED,
            user_id=user.id,
            client=client,
            details={"action": "sign_in", "token_dead": died},
        )
        if newly_locked:
            audit.record(
                self.db, self.ctx.clock, AuditEvent.ACCOUNT_LOCKED, user_id=user.id, client=client
            )
        await self.db.commit()
        raise InvalidMfaCode()
