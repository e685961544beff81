"""OAuth state: one-shot, ten minutes, bound to the browser that started the flow.

The browser holds a random binding value in an HttpOnly cookie; the store
holds, under a hash of `state`, the provider, the validated `redirect_to`
and a hash of that binding. The PKCE verifier and the OpenID nonce are
derived from the binding and the state with the server key, so the store
holds nothing a reader could replay, and a callback that arrives in another
browser (login CSRF) or names another provider (mix-up) finds no match.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeGuard

from app.cache.base import Store
from app.core.clock import Clock
from app.core.security import hash_token, keyed_hash
from app.services.oauth.base import FlowSecrets, InvalidState

STATE_TTL = timedelta(minutes=10)
KEY_PREFIX = "oauth:state:"
# What secrets.token_urlsafe(32) produces; anything else is refused unread.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def _well_formed(value: str | None) -> TypeGuard[str]:
    return value is not None and _TOKEN.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class StartedFlow:
    state: str
    binding: str
    secrets: FlowSecrets


@dataclass(frozen=True, slots=True)
class PendingFlow:
    provider: str
    redirect_to: str
    secrets: FlowSecrets


class StateStore:
    def __init__(self, store: Store, clock: Clock, *, key: bytes) -> None:
        self._store = store
        self._clock = clock
        self._key = key

    def _secrets(self, state: str, binding: str) -> FlowSecrets:
        return FlowSecrets(
            code_verifier=keyed_hash(self._key, f"oauth-pkce:{binding}:{state}"),
            nonce=keyed_hash(self._key, f"oauth-nonce:{binding}:{state}"),
        )

    async def start(self, *, provider: str, redirect_to: str, binding: str | None) -> StartedFlow:
        """Record a new flow. The browser's binding is reused so parallel tabs both work."""
        if not _well_formed(binding):
            binding = secrets.token_urlsafe(32)
        state = secrets.token_urlsafe(32)
        record = {
            "provider": provider,
            "redirect_to": redirect_to,
            "binding": hash_token(binding),
            "expires_at": (self._clock.now() + STATE_TTL).timestamp(),
        }
        await self._store.set(
            KEY_PREFIX + hash_token(state), json.dumps(record), ttl=STATE_TTL.total_seconds()
        )
        return StartedFlow(state=state, binding=binding, secrets=self._secrets(state, binding))

    async def consume(
        self, *, state: str | None, binding: str | None, provider: str
    ) -> PendingFlow:
        """Spend `state` (whatever the outcome); check its browser, provider and age."""
        if not _well_formed(state):
            raise InvalidState("malformed_state")
        raw = await self._store.getdel(KEY_PREFIX + hash_token(state))
        if raw is None:
            raise InvalidState("unknown_state")
        record = json.loads(raw)
        if not _well_formed(binding):
            raise InvalidState("missing_cookie")
        if not hmac.compare_digest(str(record["binding"]), hash_token(binding)):
            raise InvalidState("cookie_mismatch")
        if record["provider"] != provider:
            raise InvalidState("provider_mismatch")
        if float(record["expires_at"]) <= self._clock.now().timestamp():
            raise InvalidState("expired")
        return PendingFlow(
            provider=provider,
            redirect_to=str(record["redirect_to"]),
            secrets=self._secrets(state, binding),
        )
