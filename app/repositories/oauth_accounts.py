from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import OAuthAccount


class OAuthAccountRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get(self, provider: str, provider_user_id: str) -> OAuthAccount | None:
        result = await self.db.exec(
            select(OAuthAccount).where(
                OAuthAccount.provider == provider,
                OAuthAccount.provider_user_id == provider_user_id,
            )
        )
        return result.first()

    async def add(self, account: OAuthAccount) -> OAuthAccount:
        """Insert and flush; an identity linked twice raises IntegrityError here."""
        self.db.add(account)
        await self.db.flush()
        return account
