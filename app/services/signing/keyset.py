"""The key set in the database: created on first start, rotated by `backend keys rotate`.

Every change runs under one database-wide lock (`lock_transaction`), so
workers starting together, a rotation from the CLI and a start-up never
interleave: the first creates what is missing and the others find it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import keyring
from app.core.crypto import DataCipher, Purpose
from app.database.locks import lock_transaction
from app.models import SigningKey
from app.repositories.signing_keys import SigningKeyRepository

LOCK_NAME = "signing-keys"
# A previous key stays published this long after the access-token lifetime.
PUBLISH_MARGIN = timedelta(minutes=1)


class KeyState:
    NEXT = "next"
    CURRENT = "current"
    PREVIOUS = "previous"


def state_of(key: SigningKey) -> str:
    if key.activated_at is None:
        return KeyState.NEXT
    return KeyState.CURRENT if key.retired_at is None else KeyState.PREVIOUS


def published_until(key: SigningKey, access_ttl: timedelta) -> datetime | None:
    """When a previous key leaves the JWKS (None: it stays while next or current)."""
    return None if key.retired_at is None else key.retired_at + access_ttl + PUBLISH_MARGIN


@dataclass(frozen=True, slots=True)
class KeyInfo:
    kid: str
    algorithm: str
    state: str
    created_at: datetime


def _new_key(cipher: DataCipher, algorithm: str, now: datetime) -> SigningKey:
    kid = secrets.token_urlsafe(12)
    private = keyring.generate_private_key(algorithm)
    return SigningKey(
        kid=kid,
        algorithm=algorithm,
        public_jwk=keyring.public_jwk(private, kid=kid, algorithm=algorithm),
        private_key=cipher.encrypt(Purpose.SIGNING_KEY, keyring.private_pem(private), context=kid),
        created_at=now,
    )


async def _settle(
    repo: SigningKeyRepository,
    cipher: DataCipher,
    *,
    algorithm: str,
    now: datetime,
    access_ttl: timedelta,
    rotate: bool,
) -> str:
    """Bring the set to one current and one next key of `algorithm` (rotating first if asked);
    drop keys whose publication has ended and unused keys of another algorithm. Returns the
    kid of the key that signs."""
    keys = await repo.all()
    gone = [
        k.kid
        for k in keys
        if (k.algorithm != algorithm and k.activated_at is None)
        or ((until := published_until(k, access_ttl)) is not None and until <= now)
    ]
    await repo.delete(gone)
    keys = [k for k in keys if k.kid not in gone]
    currents = [k for k in keys if state_of(k) == KeyState.CURRENT]
    nexts = [k for k in keys if state_of(k) == KeyState.NEXT]
    keep = current_key(currents, algorithm)
    if rotate:
        keep = None  # the current key retires; the next one takes over
    for key in currents:
        if key is not keep:
            key.retired_at = now
    if keep is None:
        keep = nexts.pop(0) if nexts else _new_key(cipher, algorithm, now)
        keep.activated_at = now
        await repo.add(keep)
    if not nexts:
        await repo.add(_new_key(cipher, algorithm, now))
    await repo.db.flush()
    return keep.kid


def current_key(keys: Iterable[SigningKey], algorithm: str) -> SigningKey | None:
    """The key that signs: of the current keys of `algorithm`, the latest activated."""
    return max(
        (k for k in keys if k.algorithm == algorithm and state_of(k) == KeyState.CURRENT),
        key=lambda k: k.activated_at or datetime.min.replace(tzinfo=UTC),
        default=None,
    )


async def ensure(
    db: AsyncSession, cipher: DataCipher, *, algorithm: str, now: datetime, access_ttl: timedelta
) -> None:
    """Create the current and next keys if missing (safe when several workers start at once)."""
    await lock_transaction(db, LOCK_NAME)
    await _settle(
        SigningKeyRepository(db),
        cipher,
        algorithm=algorithm,
        now=now,
        access_ttl=access_ttl,
        rotate=False,
    )
    await db.commit()


async def rotate(
    db: AsyncSession, cipher: DataCipher, *, algorithm: str, now: datetime, access_ttl: timedelta
) -> str:
    """Promote next to current, current to previous, create a new next; return the new kid."""
    await lock_transaction(db, LOCK_NAME)
    repo = SigningKeyRepository(db)
    kid = await _settle(
        repo, cipher, algorithm=algorithm, now=now, access_ttl=access_ttl, rotate=True
    )
    await db.commit()
    return kid


async def list_keys(db: AsyncSession) -> list[KeyInfo]:
    return [
        KeyInfo(k.kid, k.algorithm, state_of(k), k.created_at)
        for k in await SigningKeyRepository(db).all()
    ]
