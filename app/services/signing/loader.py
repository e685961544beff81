"""Each worker's copy of the key set, kept fresh by polling the database.

A rotation made by the CLI or another worker is seen within `POLL_SECONDS`
(SPEC §7.3 asks for 10 s). A poll reads only the kids and their timestamps;
the set is loaded again (and the current private key decrypted) only when
they change, or when a previous key's publication ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import structlog

from app.core.crypto import DecryptionError, Purpose
from app.core.keyring import KeySnapshot, load_private_pem, public_key_from_jwk, render_jwks
from app.repositories.signing_keys import Fingerprint, SigningKeyRepository
from app.services.context import ServiceContext
from app.services.signing import keyset

log = structlog.get_logger(__name__)
POLL_SECONDS = 3.0


class KeyLoader:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._fingerprint: Fingerprint | None = None
        self._reload_at: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Create missing keys, load the set, and start polling for changes."""
        settings = self.ctx.settings
        async with self.ctx.sessionmaker() as db:
            await keyset.ensure(
                db,
                self.ctx.cipher,
                algorithm=settings.ALGORITHM,
                now=self.ctx.clock.now(),
                access_ttl=settings.access_token_ttl,
            )
        await self.refresh()
        self._task = asyncio.get_running_loop().create_task(self._poll(), name="signing-keys")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self.refresh()
            except Exception:  # a database hiccup: keep the last good set, try again
                log.warning("signing_keys_refresh_failed", exc_info=True)

    async def refresh(self) -> bool:
        """Load the set again if it changed; True when a new snapshot was installed."""
        now = self.ctx.clock.now()
        async with self.ctx.sessionmaker() as db:
            repo = SigningKeyRepository(db)
            fingerprint = await repo.fingerprint()
            if fingerprint == self._fingerprint and (
                self._reload_at is None or now < self._reload_at
            ):
                return False
            keys = await repo.all()
        settings = self.ctx.settings
        ttl = settings.access_token_ttl
        published = []
        reload_at: datetime | None = None
        for key in keys:
            until = keyset.published_until(key, ttl)
            if key.algorithm != settings.ALGORITHM or (until is not None and until <= now):
                continue
            published.append(key)
            if until is not None:
                reload_at = until if reload_at is None else min(reload_at, until)
        current = keyset.current_key(published, settings.ALGORITHM)
        signing_key = None
        if current is not None:
            try:
                pem = self.ctx.cipher.decrypt(
                    Purpose.SIGNING_KEY, current.private_key, context=current.kid
                )
            except DecryptionError as exc:
                raise RuntimeError(
                    f"signing key {current.kid} cannot be decrypted: none of the keys of "
                    "DATA_ENCRYPTION_KEY (or PASSWORD_PEPPER) is the one it was stored "
                    "with; list that key again (the first key encrypts, every key decrypts)"
                ) from exc
            signing_key = load_private_pem(pem)
        self.ctx.keyring.install(
            KeySnapshot(
                signing_kid=current.kid if current is not None else None,
                signing_key=signing_key,
                verifying={k.kid: public_key_from_jwk(k.public_jwk) for k in published},
                jwks=render_jwks([k.public_jwk for k in published]),
            )
        )
        self._fingerprint = fingerprint
        self._reload_at = reload_at
        log.info(
            "signing_keys_loaded",
            current=current.kid if current is not None else None,
            published=[k.kid for k in published],
        )
        return True
