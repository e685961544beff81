"""Every query the service runs on its request paths can use an index.

Runs a representative set of flows, records each statement PostgreSQL
receives, then asks the planner for each with sequential scans disabled: a
query that still needs a Seq Scan has no index to use. PostgreSQL only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from app.services.maintenance import prune
from tests.conftest import Harness, HarnessFactory
from tests.support.flows import API, PASSWORD, bearer, new_email, register
from tests.support.oauth_flow import Browser, start

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL (TEST_DATABASE_URL)"
)

# Admin searches by email substring (LIKE '%x%') cannot use a b-tree index; they are
# paginated, admin-only, and not on a hot path.
ALLOWED_SCANS = ("LIKE",)
# Read whole on purpose: the webhook endpoints (a handful an admin configured), which
# the dispatcher loads to fan events out and the admin list shows. Lookups by id
# use the primary key.
WHOLE_TABLES = ("webhook_endpoints",)


def _seq_scans(plan: Any) -> Iterator[str]:
    if isinstance(plan, dict):
        if plan.get("Node Type") == "Seq Scan":
            yield plan.get("Relation Name", "?")
        for value in plan.values():
            yield from _seq_scans(value)
    elif isinstance(plan, list):
        for item in plan:
            yield from _seq_scans(item)


async def test_every_lookup_has_an_index(make_harness: HarnessFactory) -> None:
    oauth = await start(make_harness)
    harness = oauth.harness
    statements: list[tuple[str, Any]] = []

    def record(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in ("SELECT", "UPDATE", "DELETE") and "pg_" not in statement:
            statements.append((statement, params))

    engine = harness.ctx.sessionmaker.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        await _exercise(harness, oauth.browser)
    finally:
        event.remove(engine, "before_cursor_execute", record)

    url = make_url(harness.settings.database_url).set(drivername="postgresql")
    problems = []
    with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
        conn.execute("SET enable_seqscan = off")
        for statement, params in statements:
            if any(marker in statement for marker in ALLOWED_SCANS):
                continue
            row = conn.execute(f"EXPLAIN (FORMAT JSON) {statement}", params).fetchone()
            assert row is not None
            plan = row[0] if not isinstance(row[0], str) else json.loads(row[0])
            for table in _seq_scans(plan):
                if table in WHOLE_TABLES:
                    continue
                problems.append(f"{table}: {' '.join(statement.split())[:160]}")
    assert len(statements) > 20
    assert sorted(set(problems)) == []


async def _exercise(harness: Harness, browser: Browser) -> None:
    client = harness.client
    email = await harness.user()
    other = new_email()
    await register(client, other)
    await client.post(f"{API}/auth/verify-email/resend", json={"email": other})
    pair = await harness.login(email)
    await client.post(f"{API}/auth/login", json={"email": email, "password": "wrong one!"})
    headers = bearer(pair["access_token"])
    await client.get(f"{API}/users/profile", headers=headers)
    await client.put(f"{API}/users/profile", headers=headers, json={"full_name": "Index"})
    sessions = (await client.get(f"{API}/users/sessions", headers=headers)).json()
    refreshed = (
        await client.post(f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    ).json()
    await client.post(f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    second = await harness.login(email)
    await client.delete(
        f"{API}/users/sessions/{sessions[0]['id']}", headers=bearer(second["access_token"])
    )
    await client.post(
        f"{API}/users/change-password",
        headers=bearer(second["access_token"]),
        json={"current_password": PASSWORD, "new_password": "index passphrase 2"},
    )
    await client.post(f"{API}/auth/password-reset", json={"email": email})
    await harness.settle()
    token = harness.mailbox.token(email, "/reset-password")
    await client.post(
        f"{API}/auth/password-reset/complete",
        json={"token": token, "new_password": "index passphrase 3"},
    )
    third = await harness.login(email, "index passphrase 3")
    await client.post(f"{API}/auth/logout", headers=bearer(third["access_token"]))
    await client.post(f"{API}/auth/logout-all", headers=bearer(str(refreshed["access_token"])))
    await browser.tokens("github")
    await browser.tokens("google")  # links a second identity to the same account
    _, admin = await harness.admin()
    admin_headers = bearer(admin["access_token"])
    users = (
        await client.get(f"{API}/admin/users", params={"role": "user"}, headers=admin_headers)
    ).json()
    user_id = users["items"][0]["id"]
    await client.patch(
        f"{API}/admin/users/{user_id}", headers=admin_headers, json={"role": "guest"}
    )
    await client.post(f"{API}/admin/users/{user_id}/unlock", headers=admin_headers)
    for params in (
        {"user_id": user_id},
        {"event": "login_failed"},
        {"since": "2020-01-01T00:00:00Z"},
    ):
        await client.get(f"{API}/admin/audit", params=params, headers=admin_headers)
    await prune(harness.ctx, session_days=7, audit_days=365)
