"""`backend` command line: serve, migrate, create-admin, prune, keys."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError

from app.config import Settings

cli = typer.Typer(
    name="backend",
    help="Authentication and user-management backend.",
    no_args_is_help=True,
    add_completion=False,
)


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    """Settings from the environment, or a one-line error per bad setting."""
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            name = ".".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            # Whole-model checks (secrets) already name their setting in the message.
            typer.echo(
                f"error: invalid setting {name}: {message}" if name else f"error: {message}",
                err=True,
            )
        raise typer.Exit(2) from None


def _check_database(settings: Settings) -> None:
    from sqlalchemy import text

    from app.database.connection import create_engine

    async def probe() -> None:
        engine = create_engine(settings)
        try:
            async with asyncio.timeout(10):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    try:
        asyncio.run(probe())
    except Exception as exc:  # any driver error: report it in one line
        target = settings.database_url.split("@")[-1].split("?")[0]
        fail(f"database unreachable at {target}: {type(exc).__name__}: {exc}".splitlines()[0])


def _check_schema(settings: Settings) -> None:
    from app.database.migrations import read_schema_state

    state = asyncio.run(read_schema_state(settings))
    if state.status == "behind":
        fail(state.message)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Start the HTTP server (applies migrations first in embedded mode)."""
    import uvicorn

    from app.core.logging import configure_logging
    from app.database.migrations import upgrade

    settings = load_settings()
    if workers > 1 and not settings.REDIS_URL:
        fail("--workers > 1 needs REDIS_URL: limits, lockouts and revocations must be shared")
    # Lines of this process (uvicorn's "running on" address, its worker
    # supervisor) in the format of the workers' own lines.
    configure_logging(level=settings.LOG_LEVEL, fmt=settings.log_format)
    with _metrics_directory(workers), _sigterm_exits_cleanly():
        _check_database(settings)
        if settings.embedded:
            upgrade(settings)
        else:  # production migrates with `backend migrate`, before serving
            _check_schema(settings)
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            # The app resolves client addresses itself from TRUSTED_PROXIES.
            proxy_headers=False,
            forwarded_allow_ips="",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=20,
            # A worker answers the supervisor's health pings only once it has
            # imported everything; on a busy or CPU-limited host that takes more
            # than uvicorn's 5 s, and killing it restarts the same slow start.
            timeout_worker_healthcheck=30,
        )


@contextmanager
def _sigterm_exits_cleanly() -> Iterator[None]:
    """Exit 0 on SIGTERM, the way a service manager asks for a normal stop.

    uvicorn catches SIGTERM, shuts down gracefully, then restores the previous
    handler and raises the signal again; with the default handler that kills
    the process (exit 143), which supervisors report as a failure. This
    handler turns it into a normal exit, and a SIGTERM that arrives before
    uvicorn listens (during the checks or migrations) into one too.
    """

    def exit_quietly(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, exit_quietly)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _metrics_directory(workers: int) -> Iterator[None]:
    """With several workers, give prometheus-client a fresh shared directory.

    The variable must be set before any worker imports prometheus-client, and
    the directory must start empty (old files would add stale counts); it is
    removed when the server stops.
    """
    if workers == 1:
        yield
        return
    path = tempfile.mkdtemp(prefix="auth-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    try:
        yield
    finally:
        shutil.rmtree(path, ignore_errors=True)


@cli.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply database migrations (safe to run from several hosts at once on PostgreSQL)."""
    from app.database.migrations import upgrade

    settings = load_settings()
    _check_database(settings)
    upgrade(settings, revision)
    typer.echo(f"database at {revision}")


ADMIN_PASSWORD_ENV = "ADMIN_PASSWORD"  # noqa: S105  (a variable name, not a password)


@cli.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="Admin email address.")],
    password: Annotated[
        str | None,
        typer.Option(
            envvar=ADMIN_PASSWORD_ENV,
            show_envvar=True,
            help="The password (visible to `ps` and shell history: prefer the "
            "environment variable or --password-stdin). Asked for when no source is given.",
        ),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a verified admin. An existing verified account is promoted and keeps its
    password; an unverified one is taken over: the given password replaces the
    registrant's, and its sessions, tokens and links are revoked."""
    from app.errors import AppError
    from app.runtime import open_context
    from app.schemas.common import normalise_email
    from app.services.bootstrap import AdminOutcome, ensure_admin

    secret = _admin_password(password, from_stdin=password_stdin)
    settings = load_settings()
    try:
        address = normalise_email(email)
    except ValueError as exc:
        fail(str(exc))

    async def run() -> tuple[str, AdminOutcome]:
        async with open_context(settings) as ctx, ctx.sessionmaker() as db:
            user, outcome = await ensure_admin(
                db, ctx, email=address, password=secret, promote=True
            )
            return str(user.id), outcome

    try:
        user_id, outcome = asyncio.run(run())
    except AppError as exc:
        fail(exc.detail)
    typer.echo(
        {
            AdminOutcome.CREATED: f"created admin {address} ({user_id})",
            AdminOutcome.PROMOTED: f"promoted admin {address} ({user_id}); password unchanged: "
            "the account's owner proved the address",
            AdminOutcome.TAKEN_OVER: f"took over {address} as admin ({user_id}): it was never "
            "verified, so the given password replaced the registrant's and its sessions, "
            "tokens and links were revoked",
            AdminOutcome.UNCHANGED: f"{address} is already an admin ({user_id}); password "
            "unchanged",
            AdminOutcome.LEFT_AS_IS: f"{address} left as it is ({user_id})",  # not with promote
        }[outcome]
    )


def _admin_password(flag: str | None, *, from_stdin: bool) -> str:
    """The password from exactly one source: --password or ADMIN_PASSWORD, standard
    input, or (neither) a prompt that asks twice."""
    if from_stdin:
        if flag is not None:
            fail(f"give only one of --password, {ADMIN_PASSWORD_ENV} and --password-stdin")
        line = sys.stdin.readline()
        # Only the line ending goes: spaces are part of a password.
        secret = line.removesuffix("\n").removesuffix("\r")
        if not secret:
            fail("no password on standard input")
        return secret
    if flag is not None:
        return flag
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@cli.command()
def prune(
    session_days: Annotated[
        float, typer.Option(min=0, help="Keep revoked or expired sessions this many days.")
    ] = 7,
    audit_days: Annotated[float, typer.Option(min=0, help="Keep audit rows this many days.")] = 365,
    delivery_days: Annotated[
        float, typer.Option(min=0, help="Keep finished webhook deliveries this many days.")
    ] = 30,
) -> None:
    """Delete expired one-time tokens, dead sessions, old audit rows and old webhook
    deliveries (cron-safe)."""
    from app.runtime import open_context
    from app.services.maintenance import prune as run_prune

    settings = load_settings()

    async def run() -> str:
        async with open_context(settings) as ctx:
            report = await run_prune(
                ctx,
                session_days=session_days,
                audit_days=audit_days,
                delivery_days=delivery_days,
            )
        return (
            f"pruned {report.tokens} one-time tokens, {report.sessions} sessions, "
            f"{report.audit_rows} audit rows, {report.deliveries} webhook deliveries"
        )

    typer.echo(asyncio.run(run()))


keys_cli = typer.Typer(
    name="keys", help="Signing keys of asymmetric access tokens.", no_args_is_help=True
)
cli.add_typer(keys_cli)


def _asymmetric_settings() -> Settings:
    from app.core.keyring import is_asymmetric

    settings = load_settings()
    if not is_asymmetric(settings.ALGORITHM):
        fail(
            f"ALGORITHM={settings.ALGORITHM} signs with SECRET_KEY; "
            "key sets need ES256, EdDSA or RS256"
        )
    _check_database(settings)
    _check_schema(settings)
    return settings


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Promote next to current, current to previous, and create a new next key."""
    from app.runtime import open_context
    from app.services.signing import keyset

    settings = _asymmetric_settings()

    async def run() -> str:
        async with open_context(settings) as ctx, ctx.sessionmaker() as db:
            return await keyset.rotate(
                db,
                ctx.cipher,
                algorithm=settings.ALGORITHM,
                now=ctx.clock.now(),
                access_ttl=settings.access_token_ttl,
            )

    kid = asyncio.run(run())
    typer.echo(f"rotated: {kid} signs now (running workers switch within 10 s)")


@keys_cli.command("list")
def keys_list() -> None:
    """Print each key's kid, algorithm, state and creation time."""
    from app.runtime import open_context
    from app.services.signing import keyset

    settings = _asymmetric_settings()

    async def run() -> list[keyset.KeyInfo]:
        async with open_context(settings) as ctx, ctx.sessionmaker() as db:
            return await keyset.list_keys(db)

    keys = asyncio.run(run())
    if not keys:
        typer.echo("no keys yet (the first start creates them)")
    for key in keys:
        typer.echo(f"{key.kid}  {key.algorithm:6}  {key.state:8}  {key.created_at.isoformat()}")


def main() -> None:
    cli(prog_name="backend")


if __name__ == "__main__":
    main()
