"""The social login use-cases: list providers, initiate, callback, exchange.

Every callback outcome is a redirect to the frontend: `?code=` (a one-time
exchange code, 60 s, stored hashed) on success, `?error=` otherwise. Tokens
are only ever handed out by `exchange`, in a JSON body, never in a URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from app import errors
from app.models import AuditEvent, TokenPurpose
from app.repositories.users import UserRepository
from app.schemas.auth import TokenPair
from app.schemas.oauth import ProviderOut
from app.services import audit, tokens
from app.services.context import ClientInfo, ServiceContext
from app.services.oauth.base import OAUTH_PATH, OAuthFailure, OAuthProvider, ProviderError
from app.services.oauth.linking import AccountLinker
from app.services.oauth.registry import configured_providers
from app.services.oauth.state import STATE_TTL, StateStore
from app.services.signin import AMR_FEDERATED, SignInMethod, finish_sign_in
from app.utils.url_utils import UnsafeRedirect, add_query, safe_redirect

log = structlog.get_logger(__name__)

EXCHANGE_TTL = timedelta(seconds=60)
REDIRECT_MAX = 2048
CODE_MAX = 2048
# A provider's own error code (e.g. "access_denied") is kept in the audit row if it looks like one.
_PROVIDER_ERROR_CODE = re.compile(r"[a-z_]{1,64}")


@dataclass(frozen=True, slots=True)
class Initiated:
    """Where to send the browser, and the binding value for its cookie."""

    location: str
    binding: str
    binding_max_age: int


def _with_path(url: str) -> str:
    parts = urlsplit(url)
    return url if parts.path else urlunsplit(parts._replace(path="/"))


class OAuthService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.providers = configured_providers(ctx.settings)
        self.states = StateStore(ctx.store, ctx.clock, key=ctx.settings.secret_key)

    def _provider(self, name: str) -> OAuthProvider:
        provider = self.providers.get(name)
        if provider is None:
            raise errors.NotFound("Unknown OAuth provider")
        return provider

    def _redirect_uri(self, name: str) -> str:
        # One callback URI per provider (RFC 9700 §4.4.2), so a mixed-up flow cannot match.
        return f"{self.settings.BACKEND_BASE_URL}{OAUTH_PATH}/{name}/callback"

    def list_providers(self) -> list[ProviderOut]:
        """The configured providers and where a browser starts signing in with each."""
        base = self.settings.BACKEND_BASE_URL
        return [
            ProviderOut(name=name, authorize_url=f"{base}{OAUTH_PATH}/{name}/initiate")
            for name in self.providers
        ]

    async def initiate(
        self, name: str, *, redirect_to: str | None, binding: str | None
    ) -> Initiated:
        """Start a flow: validate `redirect_to`, record the state, build the provider URL."""
        provider = self._provider(name)
        if redirect_to is not None and len(redirect_to) > REDIRECT_MAX:
            raise errors.InvalidRedirect()
        try:
            target = _with_path(safe_redirect(redirect_to, self.settings.FRONTEND_BASE_URL))
        except UnsafeRedirect as exc:
            raise errors.InvalidRedirect() from exc
        flow = await self.states.start(provider=name, redirect_to=target, binding=binding)
        location = provider.authorization_url(
            state=flow.state, secrets=flow.secrets, redirect_uri=self._redirect_uri(name)
        )
        return Initiated(
            location=location,
            binding=flow.binding,
            binding_max_age=int(STATE_TTL.total_seconds()),
        )

    async def callback(
        self,
        db: AsyncSession,
        name: str,
        *,
        code: str | None,
        state: str | None,
        error: str | None,
        binding: str | None,
        client: ClientInfo,
    ) -> str:
        """Finish a flow; return the frontend URL with `code=` or `error=`."""
        provider = self._provider(name)
        try:
            pending = await self.states.consume(state=state, binding=binding, provider=name)
        except OAuthFailure as failure:
            return await self._failed(db, name, failure, self.settings.FRONTEND_BASE_URL, client)
        try:
            if error is not None:
                refusal = error if _PROVIDER_ERROR_CODE.fullmatch(error) else "other"
                raise ProviderError("authorization_refused", provider_error=refusal)
            if not code or len(code) > CODE_MAX:
                raise ProviderError("missing_code")
            # No database work before this call: no connection is held while the provider answers.
            identity = await provider.fetch_identity(
                self.ctx.http,
                self.ctx.clock,
                code=code,
                secrets=pending.secrets,
                redirect_uri=self._redirect_uri(name),
            )
            result = await AccountLinker(db, self.ctx).resolve(identity, client)
            exchange_code = await tokens.issue(
                db, self.ctx.clock, result.user.id, TokenPurpose.OAUTH_EXCHANGE, EXCHANGE_TTL
            )
            audit.record(
                db,
                self.ctx.clock,
                AuditEvent.OAUTH_LOGIN,
                user_id=result.user.id,
                actor_id=result.user.id,
                client=client,
                details={"provider": name, "via": result.via},
            )
            await db.commit()
            await self.ctx.principals.forget_user(result.user.id)  # providers, takeover
        except OAuthFailure as failure:
            await db.rollback()
            return await self._failed(db, name, failure, pending.redirect_to, client)
        return add_query(pending.redirect_to, code=exchange_code)

    async def _failed(
        self,
        db: AsyncSession,
        name: str,
        failure: OAuthFailure,
        target: str,
        client: ClientInfo,
    ) -> str:
        details = {"provider": name, "error": failure.code, "reason": failure.reason}
        details.update({key: str(value) for key, value in failure.details.items()})
        log.warning("oauth_failed", **details)
        audit.record(
            db,
            self.ctx.clock,
            AuditEvent.OAUTH_FAILED,
            user_id=failure.user_id,
            client=client,
            details=details,
        )
        await db.commit()
        return add_query(_with_path(target), error=failure.code)

    async def exchange(self, db: AsyncSession, *, code: str, client: ClientInfo) -> TokenPair:
        """Trade a one-time exchange code for a token pair on a new session."""
        spent = await tokens.consume(db, self.ctx.clock, code, TokenPurpose.OAUTH_EXCHANGE)
        if spent is None:
            raise errors.InvalidToken()
        user = await UserRepository(db).get(spent.user_id)
        if user is None:
            raise errors.InvalidToken()
        if not user.is_active:
            await db.rollback()
            raise errors.AccountDisabled()
        return await finish_sign_in(
            db, self.ctx, user, client, method=SignInMethod.OAUTH, amr=[AMR_FEDERATED]
        )
