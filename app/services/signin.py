"""The sign-in gate: the one place where every way in ends (SPEC §7.1 "The gate").

Password login, the OAuth2 form, the OAuth exchange, email sign-in and
passkeys each check their own first factor (and the account's state), then
call `finish_sign_in`. It decides whether a second factor is still due and
only then opens a session, so a new sign-in path cannot forget the check:
`SessionService.start` is called from nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from app.errors import MfaRequired
from app.models import AuditEvent, User
from app.schemas.auth import TokenPair
from app.services import audit
from app.services.challenges import Challenges
from app.services.context import ClientInfo, ServiceContext
from app.services.sessions import SessionService

# Authentication method references (RFC 8176) that a session records and its
# access tokens carry as `amr`.
AMR_PASSWORD = "pwd"
AMR_OTP = "otp"
AMR_MFA = "mfa"
# A passkey: proof of possession of a key held by an authenticator ("hwk") and
# the user-verification gesture it required ("user"), two factors in one step.
AMR_HARDWARE_KEY = "hwk"
AMR_USER = "user"
# Signed in through an identity provider (Google, GitHub): not in RFC 8176's
# registry; the value identity platforms use for federated sign-in.
AMR_FEDERATED = "fed"
# Proved control of the mailbox (magic link or emailed code). RFC 8176 has no
# value for it. Its nearest registered value, "otp", would say something else
# here: this service reports a TOTP step as "otp" (+ "mfa"), and services that
# read the claim take "otp" as evidence of a second factor. A self-describing
# unregistered value, like "fed", says what happened and nothing more.
AMR_EMAIL = "email"


# The sign-in waiting for its second factor (SPEC §7.1 "The gate"): a challenge in
# the shared store, single use, 5 minutes, dead after 5 wrong codes.
MFA_CHALLENGE = "mfa"
MFA_TOKEN_TTL_SECONDS = 300
MFA_MAX_ATTEMPTS = 5
MFA_METHODS = ["totp", "recovery_code"]


class SignInMethod(StrEnum):
    """How the first factor was proven; `details.method` of `login_success`."""

    PASSWORD = "password"
    OAUTH = "oauth"
    MAGIC_LINK = "magic_link"
    EMAIL_CODE = "email_code"
    PASSKEY = "passkey"


async def finish_sign_in(
    db: AsyncSession,
    ctx: ServiceContext,
    user: User,
    client: ClientInfo,
    *,
    method: SignInMethod,
    amr: Sequence[str],
) -> TokenPair:
    """Open a session for `user`, whose first factor the caller has checked.

    An account with a second factor raises `MfaRequired` (nothing is
    opened) unless `amr` already says multi-factor. Commits.
    """
    if AMR_MFA not in amr:
        await _second_factor_gate(db, ctx, user, client, method=method, amr=amr)
    pair = await SessionService(db, ctx).start(user, client, amr=amr)
    audit.record(
        db,
        ctx.clock,
        AuditEvent.LOGIN_SUCCESS,
        user_id=user.id,
        actor_id=user.id,
        client=client,
        details={"method": method.value},
    )
    await db.commit()
    return pair


async def refuse_sign_in(
    db: AsyncSession,
    ctx: ServiceContext,
    user: User | None,
    client: ClientInfo,
    *,
    method: SignInMethod,
    reason: str,
) -> None:
    """Record a refused sign-in (`login_failed` with the method and why) and commit.

    The caller raises its own error: each way in answers in its own terms.
    """
    audit.record(
        db,
        ctx.clock,
        AuditEvent.LOGIN_FAILED,
        user_id=user.id if user else None,
        client=client,
        details={"method": method.value, "reason": reason},
    )
    await db.commit()


async def _second_factor_gate(
    db: AsyncSession,
    ctx: ServiceContext,
    user: User,
    client: ClientInfo,
    *,
    method: SignInMethod,
    amr: Sequence[str],
) -> None:
    """Raise `MfaRequired` with a fresh `mfa_token` when the account has TOTP on.

    The token remembers who passed the first factor and how (method and
    `amr`); `/auth/mfa/verify` (app/services/mfa.py) finishes the sign-in with
    it. What the caller did before the gate (a spent link or exchange code, a
    rehashed password) is committed: the first factor was used.
    """
    if not user.mfa_enabled:
        return
    await db.commit()
    payload = {"user_id": str(user.id), "method": method.value, "amr": list(amr)}
    token = await Challenges(ctx.store).issue(MFA_CHALLENGE, payload, ttl=MFA_TOKEN_TTL_SECONDS)
    raise MfaRequired(token, list(MFA_METHODS))
