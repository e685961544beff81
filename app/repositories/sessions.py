from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import AuditLog, RefreshToken, Role, User, UserSession, WebhookEvent
from app.models.base import UTCDateTime

_TOKENS: sa.Table = RefreshToken.__table__  # type: ignore[attr-defined]
_SESSIONS: sa.Table = UserSession.__table__  # type: ignore[attr-defined]
_USERS: sa.Table = User.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Rotated:
    """What a successful rotation needs to sign the new access token."""

    session_id: uuid.UUID
    user_id: uuid.UUID
    role: Role
    amr: list[str]
    expires_at: datetime


class SessionRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def add(self, session: UserSession) -> UserSession:
        self.db.add(session)
        await self.db.flush()
        return session

    async def get(self, session_id: uuid.UUID) -> UserSession | None:
        return await self.db.get(UserSession, session_id)

    async def get_with_user(self, session_id: uuid.UUID) -> tuple[UserSession, User] | None:
        result = await self.db.exec(
            select(UserSession, User)
            .join(User, col(User.id) == col(UserSession.user_id))
            .where(UserSession.id == session_id)
        )
        row = result.first()
        return (row[0], row[1]) if row else None

    async def list_active(self, user_id: uuid.UUID, now: datetime) -> list[UserSession]:
        result = await self.db.exec(
            select(UserSession)
            .where(
                UserSession.user_id == user_id,
                col(UserSession.revoked_at).is_(None),
                col(UserSession.expires_at) > now,
            )
            .order_by(col(UserSession.last_used_at).desc())
        )
        return list(result.all())

    async def revoke(self, session_id: uuid.UUID, *, now: datetime, reason: str) -> bool:
        """Revoke one live session; False when it was already revoked or unknown."""
        result = await self.db.exec(
            update(UserSession)
            .where(col(UserSession.id) == session_id, col(UserSession.revoked_at).is_(None))
            .values(revoked_at=now, revoke_reason=reason)
        )
        return bool(result.rowcount)

    async def revoke_all(
        self,
        user_id: uuid.UUID,
        *,
        now: datetime,
        reason: str,
        keep: uuid.UUID | None = None,
    ) -> list[uuid.UUID]:
        """Revoke every live session of a user (but `keep`); return the ids revoked."""
        conditions = [col(UserSession.user_id) == user_id, col(UserSession.revoked_at).is_(None)]
        if keep is not None:
            conditions.append(col(UserSession.id) != keep)
        result = await self.db.exec(
            update(UserSession)
            .where(*conditions)
            .values(revoked_at=now, revoke_reason=reason)
            .returning(col(UserSession.id))
        )
        return list(result.scalars().all())


class RefreshTokenRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def add(self, token: RefreshToken) -> None:
        self.db.add(token)
        await self.db.flush()

    async def rotate(
        self,
        token_hash: str,
        *,
        successor_id: uuid.UUID,
        successor_hash: str,
        now: datetime,
        idle_since: datetime | None,
        audit_entry: AuditLog,
    ) -> Rotated | None:
        """Spend a live token of a live session and store its successor; None otherwise.

        The token must be unused and unexpired, its session unrevoked, unexpired
        and (with an idle timeout) used after `idle_since`, its user active.
        Consume, insert the successor, touch the session and write `audit_entry`
        (its user and `details.session_id` filled in from the session) are one
        statement, data-modifying CTEs (PostgreSQL), run without a transaction
        around it: one statement is atomic by itself, so no BEGIN and COMMIT
        round trips. SQLite runs `rotate_sqlite` instead.
        """
        params = {
            "presented_hash": token_hash,
            "now": now,
            "idle_since": idle_since,
            "successor_id": successor_id,
            "successor_hash": successor_hash,
            "audit_id": audit_entry.id,
            "audit_event": audit_entry.event,
            "audit_ip": audit_entry.ip,
            "audit_user_agent": audit_entry.user_agent,
            "outbox_id": uuid.uuid4(),
        }
        statement = _postgres_rotation(with_idle=idle_since is not None)
        connection = await self.db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        row = (await connection.execute(statement, params)).first()
        if row is None:
            return None
        return Rotated(
            session_id=row.session_id,
            user_id=row.user_id,
            role=Role(row.role),
            amr=list(row.amr or []),
            expires_at=row.expires_at,
        )

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        result = await self.db.exec(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        )
        return result.first()


@functools.cache
def _postgres_rotation(*, with_idle: bool) -> Any:
    """The one-statement rotation of `RefreshTokenRepository.rotate`, built once with
    bound parameters (building and hashing it anew for every refresh costs more than
    the database's work). No parameter is named like a column: in an UPDATE,
    SQLAlchemy would take that value as one more SET."""
    rt, s, u = _TOKENS, _SESSIONS, _USERS
    now = sa.bindparam("now", type_=UTCDateTime())
    idle = sa.bindparam("idle_since", type_=UTCDateTime()) if with_idle else None
    presented = sa.bindparam("presented_hash", type_=sa.String())
    consumed = _consume(presented, now, idle).cte("consumed")
    audit_id = sa.bindparam("audit_id", type_=sa.Uuid())
    event = sa.bindparam("audit_event", type_=sa.String())
    details = sa.func.json_build_object(
        sa.literal("session_id", sa.String()), sa.cast(consumed.c.session_id, sa.String())
    )

    def rows_of_the_session(*columns: Any) -> Any:
        return sa.select(*columns).select_from(consumed).join(s, s.c.id == consumed.c.session_id)

    audit: sa.Table = AuditLog.__table__  # type: ignore[attr-defined]
    audited = sa.insert(audit).from_select(
        ["id", "event", "user_id", "actor_id", "ip", "user_agent", "details", "created_at"],
        rows_of_the_session(
            audit_id,
            event,
            s.c.user_id,
            s.c.user_id,
            sa.bindparam("audit_ip", type_=sa.String()),
            sa.bindparam("audit_user_agent", type_=sa.String()),
            details,
            now,
        ),
    )
    # The webhook outbox row of that audit row (SPEC §7.5), in the same statement.
    outbox: sa.Table = WebhookEvent.__table__  # type: ignore[attr-defined]
    queued = sa.insert(outbox).from_select(
        ["id", "event", "audit_id", "user_id", "actor_id", "details", "created_at"],
        rows_of_the_session(
            sa.bindparam("outbox_id", type_=sa.Uuid()),
            event,
            audit_id,
            s.c.user_id,
            s.c.user_id,
            details,
            now,
        ),
    )
    inserted = sa.insert(rt).from_select(
        ["id", "session_id", "parent_id", "token_hash", "created_at", "expires_at"],
        sa.select(
            sa.bindparam("successor_id", type_=sa.Uuid()),
            consumed.c.session_id,
            consumed.c.id,
            sa.bindparam("successor_hash", type_=sa.String()),
            now,
            consumed.c.expires_at,
        ),
    )
    touched = (
        sa.update(s).where(s.c.id.in_(sa.select(consumed.c.session_id))).values(last_used_at=now)
    )
    # The outer query reads the snapshot before the CTEs' writes: the
    # session's owner, amr and role, which no part of this statement changes.
    return (
        sa.select(consumed.c.session_id, s.c.user_id, u.c.role, s.c.amr, consumed.c.expires_at)
        .select_from(consumed)
        .join(s, s.c.id == consumed.c.session_id)
        .join(u, u.c.id == s.c.user_id)
        .add_cte(inserted.cte("inserted"))
        .add_cte(touched.cte("touched"))
        .add_cte(audited.cte("audited"))
        .add_cte(queued.cte("queued"))
    )


def _consume(token_hash: Any, now: Any, idle_since: Any) -> Any:
    """UPDATE ... RETURNING that spends a live token of a live session (see `rotate`)."""
    rt, s, u = _TOKENS, _SESSIONS, _USERS
    live = sa.select(s.c.id).join(u, u.c.id == s.c.user_id)
    live = live.where(s.c.revoked_at.is_(None), s.c.expires_at > now, u.c.is_active.is_(True))
    if idle_since is not None:
        live = live.where(s.c.last_used_at > idle_since)
    return (
        sa.update(rt)
        .where(
            rt.c.token_hash == token_hash,
            rt.c.used_at.is_(None),
            rt.c.expires_at > now,
            rt.c.session_id.in_(live),
        )
        .values(used_at=now)
        .returning(rt.c.id, rt.c.session_id, rt.c.expires_at)
    )


def rotate_sqlite(
    connection: sa.Connection,
    token_hash: str,
    *,
    successor_id: uuid.UUID,
    successor_hash: str,
    now: datetime,
    idle_since: datetime | None,
) -> Rotated | None:
    """`RefreshTokenRepository.rotate` for SQLite, on a synchronous connection (run by
    the in-process SQLite writer, see `app/database/connection.py`). SQLite has no
    data-modifying CTEs: four statements, in one transaction on one thread."""
    rt, s, u = _TOKENS, _SESSIONS, _USERS
    spent = connection.execute(_consume(token_hash, now, idle_since)).first()
    if spent is None:
        return None
    connection.execute(
        sa.insert(rt).values(
            id=successor_id,
            token_hash=successor_hash,
            created_at=now,
            session_id=spent.session_id,
            parent_id=spent.id,
            expires_at=spent.expires_at,
        )
    )
    connection.execute(sa.update(s).where(s.c.id == spent.session_id).values(last_used_at=now))
    owner = connection.execute(
        sa.select(s.c.user_id, u.c.role, s.c.amr)
        .join(u, u.c.id == s.c.user_id)
        .where(s.c.id == spent.session_id)
    ).one()
    return Rotated(
        session_id=spent.session_id,
        user_id=owner.user_id,
        role=Role(owner.role),
        amr=list(owner.amr or []),
        expires_at=spent.expires_at,
    )
