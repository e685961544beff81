"""The signed-in user's passkeys: list, rename, delete (SPEC §7.2)."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from app.errors import LastCredential, NotFound
from app.models import AuditEvent, Passkey
from app.repositories.passkeys import PasskeyRepository
from app.repositories.users import UserRepository
from app.schemas.passkeys import PasskeyOut, PublicKeyCredentialDescriptorJSON
from app.services import audit
from app.services.context import ClientInfo, ServiceContext
from app.services.principals import Principal


def passkey_out(passkey: Passkey) -> PasskeyOut:
    return PasskeyOut(
        id=passkey.id,
        name=passkey.name,
        created_at=passkey.created_at,
        last_used_at=passkey.last_used_at,
        backed_up=passkey.backed_up,
        transports=list(passkey.transports),
    )


def descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptorJSON:
    return PublicKeyCredentialDescriptorJSON(
        id=passkey.credential_id, transports=list(passkey.transports) or None
    )


class PasskeyCredentials:
    def __init__(self, db: AsyncSession, ctx: ServiceContext) -> None:
        self.db = db
        self.ctx = ctx
        self.passkeys = PasskeyRepository(db)

    async def mine(self, principal: Principal) -> list[PasskeyOut]:
        """The caller's passkeys, oldest first."""
        return [passkey_out(p) for p in await self.passkeys.list_for_user(principal.user.id)]

    async def rename(self, principal: Principal, passkey_id: uuid.UUID, *, name: str) -> PasskeyOut:
        """Rename one of the caller's passkeys; anyone else's is "not found"."""
        passkey = await self.passkeys.get_for_user(principal.user.id, passkey_id)
        if passkey is None:
            raise NotFound("Passkey not found")
        passkey.name = name
        self.db.add(passkey)
        await self.db.commit()
        return passkey_out(passkey)

    async def delete(
        self, principal: Principal, passkey_id: uuid.UUID, *, client: ClientInfo
    ) -> None:
        """Delete one of the caller's passkeys, unless it is the account's last way in."""
        user_id = principal.user.id
        # Locked first, so two deletions of an account's last two passkeys are
        # decided one after the other.
        user = await self.passkeys.lock_user(user_id)
        passkey = await self.passkeys.get_for_user(user_id, passkey_id)
        if user is None or passkey is None:
            raise NotFound("Passkey not found")
        name = passkey.name
        await self.passkeys.delete(user_id, passkey_id)
        if (
            user.hashed_password is None
            and not await UserRepository(self.db).provider_names(user_id)
            and await self.passkeys.count_for_user(user_id) == 0
        ):
            await self.db.rollback()
            raise LastCredential()
        audit.record(
            self.db,
            self.ctx.clock,
            AuditEvent.PASSKEY_REMOVED,
            user_id=user_id,
            actor_id=user_id,
            client=client,
            details={"passkey_id": str(passkey_id), "name": name},
        )
        await self.db.commit()
