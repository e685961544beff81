"""Short-lived, single-use challenges in the shared store (Redis when configured).

One mechanism for every ceremony that hands a client a secret and expects it
back within minutes: the `mfa_token` of a sign-in waiting for its second
factor, WebAuthn challenges, and the like. A challenge is

- bound to a purpose (the key namespace), so one kind never passes for another;
- stored only under the SHA-256 of its secret, with a JSON payload;
- spent atomically (GETDEL): of two concurrent uses, exactly one succeeds;
- optionally limited in wrong attempts, after which it is gone.

Every worker sees the same challenges through Redis. While Redis is down the
store falls back to per-process memory, and a challenge lives only in the
worker that issued it.
"""

from __future__ import annotations

import json
from typing import Any

from app.cache.base import Store
from app.core.security import hash_token, new_token

NAMESPACE = "chal:"


class Challenges:
    def __init__(self, store: Store) -> None:
        self._store = store

    @staticmethod
    def _key(purpose: str, raw: str) -> str:
        return f"{NAMESPACE}{purpose}:{hash_token(raw)}"

    async def issue(
        self, purpose: str, payload: dict[str, Any], *, ttl: float, raw: str | None = None
    ) -> str:
        """Store `payload` under a new secret (or the caller's `raw`); return the secret."""
        raw = raw or new_token()
        await self._store.set(self._key(purpose, raw), json.dumps(payload), ttl=ttl)
        return raw

    async def peek(self, purpose: str, raw: str) -> dict[str, Any] | None:
        """The payload of a live challenge, without spending it."""
        return _decode(await self._store.get(self._key(purpose, raw)))

    async def consume(self, purpose: str, raw: str) -> dict[str, Any] | None:
        """Spend the challenge: its payload for the first caller, None for everyone else."""
        key = self._key(purpose, raw)
        payload = _decode(await self._store.getdel(key))
        if payload is not None:
            await self._store.delete(key + ":fails")
        return payload

    async def fail(self, purpose: str, raw: str, *, max_attempts: int, ttl: float) -> bool:
        """Count a wrong answer; at `max_attempts` the challenge dies. True when it died."""
        key = self._key(purpose, raw)
        failures = await self._store.incr(key + ":fails", ttl=ttl)
        if failures < max_attempts:
            return False
        await self._store.delete(key, key + ":fails")
        return True


def _decode(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
