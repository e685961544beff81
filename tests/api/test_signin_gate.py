"""Every sign-in ends in one gate that records how it happened (`amr`) and opens the session."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import jwt
from sqlmodel import select

from app.models import AuditLog
from tests.conftest import Harness, HarnessFactory
from tests.support import oauth_flow
from tests.support.flows import API, JSON, bearer

APP = Path(__file__).resolve().parents[2] / "app"


def claims(pair: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(pair["access_token"], options={"verify_signature": False})
    return decoded


async def login_events(harness: Harness) -> list[AuditLog]:
    async with harness.ctx.sessionmaker() as db:
        rows = await db.exec(select(AuditLog).where(AuditLog.event == "login_success"))
        return list(rows.all())


async def test_a_password_login_carries_pwd_and_the_role(harness: Harness) -> None:
    email = await harness.user()
    pair = await harness.login(email)
    assert claims(pair)["amr"] == ["pwd"]
    assert claims(pair)["role"] == "user"
    (event,) = await login_events(harness)
    assert event.details == {"method": "password"}


async def test_the_oauth2_form_login_is_a_password_login(harness: Harness) -> None:
    email = await harness.user()
    response = await harness.client.post(
        f"{API}/auth/token", data={"username": email, "password": "correct horse battery staple"}
    )
    assert response.status_code == 200, response.text
    assert claims(response.json())["amr"] == ["pwd"]


async def test_an_admin_token_names_the_admin_role(harness: Harness) -> None:
    _, pair = await harness.admin()
    assert claims(pair)["role"] == "admin"


async def test_refresh_keeps_the_method_and_names_the_role_at_issue_time(harness: Harness) -> None:
    email = await harness.user()
    pair = await harness.login(email)
    _, admin = await harness.admin()
    me = await harness.client.get(f"{API}/users/profile", headers=bearer(pair["access_token"]))
    user_id = me.json()["id"]
    response = await harness.client.patch(
        f"{API}/admin/users/{user_id}",
        json={"role": "guest"},
        headers={**bearer(admin["access_token"]), **JSON},
    )
    assert response.status_code == 200, response.text
    refreshed = await harness.client.post(
        f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert claims(refreshed.json())["amr"] == ["pwd"]
    assert claims(refreshed.json())["role"] == "guest"


async def test_a_social_login_is_federated(make_harness: HarnessFactory) -> None:
    setup = await oauth_flow.start(make_harness)
    pair = await setup.browser.tokens("google")
    assert claims(pair)["amr"] == ["fed"]
    (event,) = await login_events(setup.harness)
    assert event.details == {"method": "oauth"}


def _start_calls(path: Path) -> list[int]:
    """Lines calling `.start(...)` on a SessionService or on an attribute named `sessions`."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "start":
            continue
        owner = node.func.value
        if isinstance(owner, ast.Attribute) and owner.attr == "sessions":
            lines.append(node.lineno)
        elif isinstance(owner, ast.Call) and getattr(owner.func, "id", "") == "SessionService":
            lines.append(node.lineno)
    return lines


def test_only_the_gate_opens_sessions() -> None:
    callers = {str(path.relative_to(APP)) for path in APP.rglob("*.py") if _start_calls(path)}
    assert callers == {"services/signin.py"}
