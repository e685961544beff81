"""The social login flow: initiate -> provider -> callback -> one-time code -> token pair.

- `state`, the PKCE verifier, the OIDC nonce and the validated `redirect_to` are
  kept server-side (the store) under a hash of `state`, for 10 minutes, and are
  consumed once. They are bound to the browser that started the flow by a
  random value in an HttpOnly cookie, of which the record keeps only a hash.
- Identity is (provider, provider user id). An existing account is linked by
  email only when the provider says the email is verified; an unverified local
  account with that email is taken over (password cleared, sessions revoked,
  outstanding tokens voided, marked verified), which defeats pre-registration.
- The callback never returns tokens: it redirects with a one-time `code`
  (60 s, stored hashed) that the SPA trades at /oauth/exchange.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.security import hash_token, new_token
from app.errors import AccountDisabled, InvalidRedirect, InvalidToken, NotFound
from app.models import AuditEvent, OAuthAccount, TokenPurpose, User
from app.repositories.oauth_accounts import OAuthAccountRepository
from app.repositories.tokens import OneTimeTokenRepository
from app.repositories.users import UserRepository
from app.schemas.auth import TokenPair
from app.schemas.common import normalise_email
from app.services import audit, tokens
from app.services.context import ClientInfo, ServiceContext
from app.services.oauth.providers import (
    AuthorizationRequest,
    Provider,
    ProviderError,
    ProviderProfile,
)
from app.services.oauth.registry import configured_providers
from app.services.sessions import SessionService
from app.utils.url_utils import UnsafeRedirect, add_query, safe_redirect

log = structlog.get_logger(__name__)
STATE_TTL_SECONDS = 600
EXCHANGE_TTL = timedelta(seconds=60)
OAUTH_PATH = "/api/v1/oauth"


class Refused(Exception):
    """The login cannot go on; `code` is what the frontend is told."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Redirect:
    """Where to send the browser, and what to do with the binding cookie."""

    location: str
    set_binding: str | None = None
    clear_binding: bool = False


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _clean_name(name: str | None) -> str | None:
    if not name:
        return None
    printable = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cs"))
    return printable.strip()[:200] or None


class OAuthService:
    def __init__(self, db: AsyncSession, ctx: ServiceContext) -> None:
        self.db = db
        self.ctx = ctx
        self.providers = configured_providers(ctx)

    def _provider(self, name: str) -> Provider:
        provider = self.providers.get(name)
        if provider is None:
            raise NotFound("Unknown OAuth provider")
        return provider

    def initiate_url(self, name: str) -> str:
        return f"{self.ctx.settings.BACKEND_BASE_URL}{OAUTH_PATH}/{name}/initiate"

    def _callback_url(self, name: str) -> str:
        return f"{self.ctx.settings.BACKEND_BASE_URL}{OAUTH_PATH}/{name}/callback"

    @staticmethod
    def _state_key(state: str) -> str:
        return f"oauth:state:{hash_token(state)}"

    async def initiate(
        self, name: str, *, redirect_to: str | None, binding: str | None
    ) -> Redirect:
        """Start a login with `name`: remember the attempt, send the browser to the provider."""
        provider = self._provider(name)
        try:
            target = safe_redirect(redirect_to, self.ctx.settings.FRONTEND_BASE_URL)
        except UnsafeRedirect as exc:
            raise InvalidRedirect() from exc
        # Reuse this browser's binding, so two tabs can log in at once.
        if not binding or len(binding) != 43:
            binding = new_token()
        state, nonce, verifier = new_token(), new_token(), secrets.token_urlsafe(64)
        record = {
            "provider": name,
            "binding": hash_token(binding),
            "verifier": verifier,
            "nonce": nonce,
            "redirect_to": target,
        }
        await self.ctx.store.set(self._state_key(state), json.dumps(record), ttl=STATE_TTL_SECONDS)
        request = AuthorizationRequest(
            state=state,
            code_challenge=_challenge(verifier),
            nonce=nonce,
            redirect_uri=self._callback_url(name),
        )
        return Redirect(provider.authorize_url(request), set_binding=binding)

    async def callback(
        self,
        name: str,
        *,
        code: str | None,
        state: str | None,
        error: str | None,
        binding: str | None,
        client: ClientInfo,
    ) -> Redirect:
        """Finish a login: check the state, ask the provider who this is, find or
        create the user, and redirect to the frontend with a one-time code."""
        provider = self._provider(name)
        target = self.ctx.settings.FRONTEND_BASE_URL
        raw = await self.ctx.store.getdel(self._state_key(state)) if state else None
        # A state that is not this browser's leaves its cookie alone: a forged
        # callback must not break the login the browser has under way.
        if raw is None:
            return await self._fail(target, name, "invalid_state", client, clear=False)
        record = json.loads(raw)
        target = record["redirect_to"]
        bound = binding is not None and hmac.compare_digest(
            hash_token(binding), str(record["binding"])
        )
        if record["provider"] != name or not bound:
            return await self._fail(target, name, "invalid_state", client, clear=False)
        if error or not code:
            return await self._fail(target, name, "provider_error", client)
        try:
            profile = await provider.fetch_profile(
                code=code,
                code_verifier=record["verifier"],
                nonce=record["nonce"],
                redirect_uri=self._callback_url(name),
            )
            user = await self._resolve(profile, client)
        except ProviderError as exc:
            log.warning("oauth_provider_error", provider=name, error=str(exc))
            return await self._fail(target, name, "provider_error", client)
        except Refused as exc:
            return await self._fail(target, name, exc.code, client)
        one_time = await tokens.issue(
            self.db, self.ctx.clock, user.id, TokenPurpose.OAUTH_EXCHANGE, EXCHANGE_TTL
        )
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.OAUTH_LOGIN,
            user_id=user.id,
            actor_id=user.id,
            client=client,
            details={"provider": name},
        )
        await self.db.commit()
        await self.ctx.principals.forget_user(user.id)  # its providers may have changed
        return Redirect(add_query(target, code=one_time), clear_binding=True)

    async def _fail(
        self, target: str, provider: str, code: str, client: ClientInfo, *, clear: bool = True
    ) -> Redirect:
        await self.db.rollback()
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.OAUTH_FAILED,
            client=client,
            details={"provider": provider, "reason": code},
        )
        await self.db.commit()
        return Redirect(add_query(target, error=code), clear_binding=clear)

    async def _resolve(self, profile: ProviderProfile, client: ClientInfo) -> User:
        """The user for this provider identity, linking or creating one (race-safe)."""
        for attempt in range(2):
            try:
                return await self._find_link_or_create(profile, client)
            except IntegrityError:
                # A concurrent callback linked or created it first; look again.
                await self.db.rollback()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _find_link_or_create(self, profile: ProviderProfile, client: ClientInfo) -> User:
        users = UserRepository(self.db)
        accounts = OAuthAccountRepository(self.db)
        account = await accounts.get(profile.provider, profile.user_id)
        if account is not None:
            user = await users.get(account.user_id)
            if user is None or not user.is_active:
                raise Refused("account_disabled")
            return user
        if not profile.email or not profile.email_verified:
            raise Refused("email_unverified")
        try:
            email = normalise_email(profile.email)
        except ValueError as exc:
            raise ProviderError("the provider's email address is not valid") from exc
        user = await users.get_by_email(email)
        if user is None:
            user = await self._create(email, profile, client)
        elif not user.is_active:
            raise Refused("account_disabled")
        else:
            await self._link_existing(user, profile, client)
        await accounts.add(
            OAuthAccount(
                user_id=user.id,
                provider=profile.provider,
                provider_user_id=profile.user_id,
                email=email,
                created_at=self.ctx.clock.now(),
            )
        )
        return user

    async def _create(self, email: str, profile: ProviderProfile, client: ClientInfo) -> User:
        now = self.ctx.clock.now()
        user = await UserRepository(self.db).add(
            User(
                email=email,
                full_name=_clean_name(profile.name),
                hashed_password=None,
                is_verified=True,
                created_at=now,
                updated_at=now,
            )
        )
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.REGISTER,
            user_id=user.id,
            client=client,
            details={"via": profile.provider},
        )
        return user

    async def _link_existing(
        self, user: User, profile: ProviderProfile, client: ClientInfo
    ) -> None:
        takeover = not user.is_verified
        if takeover:
            # Whoever registered this address never proved it; the provider just did.
            now = self.ctx.clock.now()
            user.hashed_password = None
            user.is_verified = True
            user.updated_at = now
            self.db.add(user)
            await SessionService(self.db, self.ctx).revoke_all(user.id, reason="oauth_takeover")
            await OneTimeTokenRepository(self.db).void_all(user.id, None, now)
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.OAUTH_LINKED,
            user_id=user.id,
            actor_id=user.id,
            client=client,
            details={"provider": profile.provider, "takeover": takeover},
        )

    async def exchange(self, code: str, client: ClientInfo) -> TokenPair:
        """Trade a one-time code from the callback for a token pair and a new session."""
        spent = await tokens.consume(self.db, self.ctx.clock, code, TokenPurpose.OAUTH_EXCHANGE)
        user = await UserRepository(self.db).get(spent.user_id) if spent else None
        if user is None:
            raise InvalidToken()
        if not user.is_active:
            await self.db.rollback()
            raise AccountDisabled()
        pair = await SessionService(self.db, self.ctx).start(user, client)
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.LOGIN_SUCCESS,
            user_id=user.id,
            client=client,
            details={"via": "oauth"},
        )
        await self.db.commit()
        return pair
