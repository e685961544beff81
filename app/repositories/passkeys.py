from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import col, delete, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import Passkey, User


class PasskeyRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def add(self, passkey: Passkey) -> Passkey:
        """Insert and flush; a credential id registered twice raises IntegrityError here."""
        self.db.add(passkey)
        await self.db.flush()
        return passkey

    async def get_for_user(self, user_id: uuid.UUID, passkey_id: uuid.UUID) -> Passkey | None:
        passkey = await self.db.get(Passkey, passkey_id)
        return passkey if passkey is not None and passkey.user_id == user_id else None

    async def get_by_credential_id(self, credential_id: str) -> Passkey | None:
        result = await self.db.exec(select(Passkey).where(Passkey.credential_id == credential_id))
        return result.first()

    async def get_with_owner(self, credential_id: str) -> tuple[Passkey, User] | None:
        """The passkey with this credential id and its owner, in one query."""
        result = await self.db.exec(
            select(Passkey, User)
            .join(User, col(User.id) == col(Passkey.user_id))
            .where(Passkey.credential_id == credential_id)
        )
        row = result.first()
        return (row[0], row[1]) if row else None

    async def list_for_user(self, user_id: uuid.UUID) -> list[Passkey]:
        result = await self.db.exec(
            select(Passkey)
            .where(Passkey.user_id == user_id)
            .order_by(col(Passkey.created_at), col(Passkey.id))
        )
        return list(result.all())

    async def count_for_user(self, user_id: uuid.UUID) -> int:
        result = await self.db.exec(
            select(func.count()).select_from(Passkey).where(Passkey.user_id == user_id)
        )
        return result.one()

    async def delete(self, user_id: uuid.UUID, passkey_id: uuid.UUID) -> bool:
        result = await self.db.exec(
            delete(Passkey).where(col(Passkey.id) == passkey_id, col(Passkey.user_id) == user_id)
        )
        return bool(result.rowcount)

    async def record_use(
        self, passkey_id: uuid.UUID, *, sign_count: int, backed_up: bool, now: datetime
    ) -> bool:
        """Store a verified use, if the counter grew (or both are zero: no counter),
        checked in the statement itself so two responses carrying one counter cannot
        both pass. False when it did not grow."""
        grew = (
            col(Passkey.sign_count) < sign_count if sign_count > 0 else col(Passkey.sign_count) == 0
        )
        condition = [col(Passkey.id) == passkey_id, grew]
        result = await self.db.exec(
            update(Passkey)
            .where(*condition)
            .values(sign_count=sign_count, backed_up=backed_up, last_used_at=now)
        )
        return bool(result.rowcount)

    async def lock_user(self, user_id: uuid.UUID) -> User | None:
        """The user row, locked until the transaction ends (a no-op on SQLite, whose
        writers are serialised anyway)."""
        result = await self.db.exec(select(User).where(col(User.id) == user_id).with_for_update())
        return result.first()

    async def claim_handle(self, user_id: uuid.UUID, handle: str) -> None:
        """Give the user `handle` unless they already have one."""
        await self.db.exec(
            update(User)
            .where(col(User.id) == user_id, col(User.passkey_handle).is_(None))
            .values(passkey_handle=handle)
        )

    async def handle_of(self, user_id: uuid.UUID) -> str | None:
        result = await self.db.exec(select(User.passkey_handle).where(col(User.id) == user_id))
        return result.first()
