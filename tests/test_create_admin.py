"""`backend create-admin` on an address someone registered first (SPEC §6 "Hardening"),
and the ways its password arrives (flag, environment variable, standard input, prompt)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from app.cli import cli
from app.main import create_app
from app.models import Role, User
from tests.conftest import base_settings, make_client
from tests.support.cli import cli_environment
from tests.support.flows import API, bearer, register
from tests.support.mail import Mailbox

runner = CliRunner()
T = TypeVar("T")
OPS = "ops@example.com"
STRANGER_PASSWORD = "the stranger's passphrase"
OPERATOR_PASSWORD = "the operator's passphrase"


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, scratch_database_url: str) -> str:
    cli_environment(monkeypatch, tmp_path, scratch_database_url)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    return scratch_database_url


Steps = Callable[[httpx.AsyncClient, Mailbox, Any], Awaitable[T]]


def over_http(database_url: str, steps: Steps[T], mailbox: Mailbox | None = None) -> T:
    """Run `steps` against an app on the database (the CLI runs its own event loop)."""

    async def main() -> T:
        app = create_app(base_settings(database_url), email_sender=mailbox or Mailbox())
        async with app.router.lifespan_context(app), make_client(app) as client:
            result = await steps(client, app.state.ctx.email_sender, app.state.ctx)
            await app.state.ctx.background.join()
            return result

    return asyncio.run(main())


def user_row(database_url: str, email: str) -> User:
    async def read(client: httpx.AsyncClient, mailbox: Mailbox, ctx: Any) -> User:
        async with ctx.sessionmaker() as db:
            return (await db.exec(select(User).where(User.email == email))).one()

    return over_http(database_url, read)


def test_an_address_registered_first_is_taken_over_not_handed_over(database: str) -> None:
    mailbox = Mailbox()

    async def stranger_registers(client: httpx.AsyncClient, mail: Mailbox, ctx: Any) -> None:
        response = await register(client, OPS, STRANGER_PASSWORD, full_name="Ops Team")
        assert response.status_code == 201
        await client.post(f"{API}/auth/password-reset", json={"email": OPS})

    over_http(database, stranger_registers, mailbox)
    verify_link = mailbox.token(OPS, "/verify-email")
    reset_link = mailbox.token(OPS, "/reset-password")

    result = runner.invoke(cli, ["create-admin", "--email", OPS, "--password", OPERATOR_PASSWORD])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith(f"took over {OPS} as admin")

    async def afterwards(client: httpx.AsyncClient, mail: Mailbox, ctx: Any) -> None:
        stranger = await client.post(
            f"{API}/auth/login", json={"email": OPS, "password": STRANGER_PASSWORD}
        )
        assert stranger.status_code == 401
        for path, body in [
            ("/auth/verify-email", {"token": verify_link}),
            ("/auth/password-reset/complete", {"token": reset_link, "new_password": "x" * 20}),
        ]:
            response = await client.post(f"{API}{path}", json=body)
            assert response.status_code == 400 and response.json()["code"] == "invalid_token"
        operator = await client.post(
            f"{API}/auth/login", json={"email": OPS, "password": OPERATOR_PASSWORD}
        )
        assert operator.status_code == 200, operator.text
        profile = await client.get(
            f"{API}/users/profile", headers=bearer(operator.json()["access_token"])
        )
        # Nothing the registrant chose survives.
        assert profile.json()["role"] == "admin" and profile.json()["full_name"] is None
        audit = await client.get(
            f"{API}/admin/audit",
            params={"event": "role_changed"},
            headers=bearer(operator.json()["access_token"]),
        )
        (row,) = audit.json()["items"]
        assert row["details"]["via"] == "bootstrap" and row["details"]["takeover"] is True

    over_http(database, afterwards)


def test_the_sessions_of_a_taken_over_account_are_revoked(database: str) -> None:
    """An unverified account cannot sign in, but a session opened before (by an admin
    flipping flags, or a later feature) must not outlive the takeover either."""

    async def stranger_with_a_session(client: httpx.AsyncClient, mail: Mailbox, ctx: Any) -> str:
        await register(client, OPS, STRANGER_PASSWORD)
        async with ctx.sessionmaker() as db:
            user = (await db.exec(select(User).where(User.email == OPS))).one()
            user.is_verified = True
            db.add(user)
            await db.commit()
        pair = (
            await client.post(
                f"{API}/auth/login", json={"email": OPS, "password": STRANGER_PASSWORD}
            )
        ).json()
        async with ctx.sessionmaker() as db:
            user = (await db.exec(select(User).where(User.email == OPS))).one()
            user.is_verified = False
            db.add(user)
            await db.commit()
        return str(pair["refresh_token"])

    refresh = over_http(database, stranger_with_a_session)
    result = runner.invoke(cli, ["create-admin", "--email", OPS, "--password", OPERATOR_PASSWORD])
    assert result.exit_code == 0, result.output

    async def refresh_fails(client: httpx.AsyncClient, mail: Mailbox, ctx: Any) -> None:
        response = await client.post(f"{API}/auth/refresh", json={"refresh_token": refresh})
        assert response.status_code == 401

    over_http(database, refresh_fails)


def test_a_verified_account_is_promoted_and_keeps_its_password(database: str) -> None:
    mailbox = Mailbox()

    async def owner_registers(client: httpx.AsyncClient, mail: Mailbox, ctx: Any) -> None:
        await register(client, OPS, STRANGER_PASSWORD)
        await ctx.background.join()
        token = mail.token(OPS, "/verify-email")
        assert (await client.post(f"{API}/auth/verify-email", json={"token": token})).is_success

    over_http(database, owner_registers, mailbox)
    result = runner.invoke(cli, ["create-admin", "--email", OPS, "--password", OPERATOR_PASSWORD])
    assert result.exit_code == 0, result.output
    assert "promoted admin ops@example.com" in result.output
    assert "password unchanged" in result.output
    assert user_row(database, OPS).role == Role.ADMIN


def test_the_password_policy_applies_to_an_existing_account_too(database: str) -> None:
    over_http(database, lambda client, mail, ctx: register(client, OPS, STRANGER_PASSWORD))
    result = runner.invoke(cli, ["create-admin", "--email", OPS, "--password", "password123"])
    assert result.exit_code == 1
    assert "common" in result.output or "password" in result.output
    row = user_row(database, OPS)
    assert row.role == Role.USER and not row.is_verified


def test_the_password_from_the_environment(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_PASSWORD", OPERATOR_PASSWORD)
    result = runner.invoke(cli, ["create-admin", "--email", OPS])
    assert result.exit_code == 0, result.output
    assert OPERATOR_PASSWORD not in result.output
    over_http(database, _can_sign_in(OPS, OPERATOR_PASSWORD))


@pytest.mark.parametrize("ending", ["\n", "\r\n", ""])
def test_the_password_from_standard_input(database: str, ending: str) -> None:
    # Spaces are part of a password: only the line ending is taken off.
    password = f" {OPERATOR_PASSWORD} "
    result = runner.invoke(
        cli, ["create-admin", "--email", OPS, "--password-stdin"], input=password + ending
    )
    assert result.exit_code == 0, result.output
    over_http(database, _can_sign_in(OPS, password))


def test_the_prompt_still_asks_twice_without_any_source(database: str) -> None:
    result = runner.invoke(
        cli, ["create-admin", "--email", OPS], input=f"{OPERATOR_PASSWORD}\n{OPERATOR_PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    over_http(database, _can_sign_in(OPS, OPERATOR_PASSWORD))


def test_two_password_sources_at_once_are_refused(database: str) -> None:
    args = ["create-admin", "--email", OPS, "--password", OPERATOR_PASSWORD, "--password-stdin"]
    result = runner.invoke(cli, args, input=OPERATOR_PASSWORD)
    assert result.exit_code == 1
    assert "one of" in result.output


def test_an_empty_standard_input_is_refused(database: str) -> None:
    result = runner.invoke(cli, ["create-admin", "--email", OPS, "--password-stdin"], input="")
    assert result.exit_code == 1
    assert "standard input" in result.output


def _can_sign_in(email: str, password: str) -> Steps[None]:
    async def steps(client: httpx.AsyncClient, mail: Mailbox, ctx: Any) -> None:
        response = await client.post(
            f"{API}/auth/login", json={"email": email, "password": password}
        )
        assert response.status_code == 200, response.text

    return steps


async def test_first_admin_on_someone_elses_account_warns_and_changes_nothing(
    make_harness: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """FIRST_ADMIN_* never takes an account over (only the operator's command does),
    but it must not look as if the admin existed: it says to run create-admin."""
    first = await make_harness()
    await register(first.client, OPS, STRANGER_PASSWORD)
    capsys.readouterr()
    await make_harness(
        FIRST_ADMIN_EMAIL=OPS, FIRST_ADMIN_PASSWORD=OPERATOR_PASSWORD, LOG_LEVEL="INFO"
    )
    err = capsys.readouterr().err
    assert '"first_admin_not_admin"' in err and "backend create-admin" in err
    assert '"first_admin_exists"' not in err
    async with first.ctx.sessionmaker() as db:
        user = (await db.exec(select(User).where(User.email == OPS))).one()
    assert user.role == Role.USER and not user.is_verified
