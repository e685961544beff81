"""`backend keys list` and `backend keys rotate` (SPEC §7.3)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.runtime import open_context
from app.services.signing.loader import KeyLoader
from tests.conftest import base_settings
from tests.support.cli import cli_environment

runner = CliRunner()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, scratch_database_url: str) -> str:
    cli_environment(monkeypatch, tmp_path, scratch_database_url, ALGORITHM="ES256", REDIS_URL="")
    return scratch_database_url


def _lines(*args: str) -> list[list[str]]:
    result = runner.invoke(cli, ["keys", *args])
    assert result.exit_code == 0, result.output
    return [line.split() for line in result.output.strip().splitlines()]


def test_rotate_then_list(env: str) -> None:
    assert _lines("list") == [["no", "keys", "yet", "(the", "first", "start", "creates", "them)"]]
    # Rotating an empty set creates it (nothing signed yet, so nothing retires).
    assert _lines("rotate")[0][0] == "rotated:"
    first = {row[0]: row[2] for row in _lines("list")}
    assert sorted(first.values()) == ["current", "next"]
    promoted = next(kid for kid, state in first.items() if state == "next")
    rotated = _lines("rotate")
    assert rotated[0][1] == promoted
    rows = _lines("list")
    states = {row[0]: row[2] for row in rows}
    assert states[promoted] == "current"
    assert sorted(states.values()) == ["current", "next", "previous"]
    assert {row[1] for row in rows} == {"ES256"}


def test_a_worker_picks_up_a_cli_rotation(env: str) -> None:
    settings = base_settings(env, ALGORITHM="ES256")

    async def worker_sees(kid_after: list[str]) -> tuple[str | None, str | None]:
        async with open_context(settings) as ctx:
            loader = KeyLoader(ctx)
            await loader.start()
            try:
                before = ctx.keyring.snapshot.signing_kid
                await asyncio.to_thread(lambda: kid_after.append(_lines("rotate")[0][1]))
                await loader.refresh()  # what the poll does every few seconds
                return before, ctx.keyring.snapshot.signing_kid
            finally:
                await loader.stop()

    kids: list[str] = []
    before, after = asyncio.run(worker_sees(kids))
    assert before != after and after == kids[0]


def test_keys_need_an_asymmetric_algorithm(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALGORITHM", "HS256")
    result = runner.invoke(cli, ["keys", "list"])
    assert result.exit_code == 1
    assert "ES256, EdDSA or RS256" in result.output
