from __future__ import annotations

from sqlmodel import func, select

from app.models import AuditLog, OneTimeToken, RefreshToken, UserSession
from app.services.maintenance import prune
from tests.conftest import Harness
from tests.support.flows import API, bearer, new_email, register


async def _count(harness: Harness, model: type) -> int:
    async with harness.ctx.sessionmaker() as db:
        return (await db.exec(select(func.count()).select_from(model))).one()


async def test_prune_removes_only_what_is_dead(harness: Harness) -> None:
    email = await harness.user()  # one spent verification token, audit rows
    await register(harness.client, new_email())  # one live verification token
    await harness.settle()
    live = await harness.login(email)
    revoked = await harness.login(email)
    await harness.client.post(f"{API}/auth/logout", headers=bearer(revoked["access_token"]))
    assert await _count(harness, UserSession) == 2

    report = await prune(harness.ctx, session_days=7, audit_days=365)
    assert (report.tokens, report.sessions, report.audit_rows) == (0, 0, 0)

    # Eight days on: the revoked session is old enough; the live one expired a day ago.
    harness.clock.advance(days=8)
    report = await prune(harness.ctx, session_days=7, audit_days=365)
    assert report.tokens == 2  # both verification tokens expired after 24 h
    assert report.sessions == 1
    assert await _count(harness, OneTimeToken) == 0
    assert await _count(harness, UserSession) == 1
    profile = await harness.client.get(f"{API}/users/profile", headers=bearer(live["access_token"]))
    assert profile.status_code == 401  # long expired anyway

    harness.clock.advance(days=400)
    report = await prune(harness.ctx, session_days=7, audit_days=365)
    assert report.sessions == 1 and report.audit_rows > 0
    assert await _count(harness, UserSession) == 0
    assert await _count(harness, RefreshToken) == 0  # cascaded with their sessions
    assert await _count(harness, AuditLog) == 0
    again = await prune(harness.ctx, session_days=7, audit_days=365)
    assert (again.tokens, again.sessions, again.audit_rows) == (0, 0, 0)
