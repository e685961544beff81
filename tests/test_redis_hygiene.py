"""A test run leaves nothing in Redis: every test app's keys are deleted after its test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis

from tests.support.redis_server import redis_server

# Tests of the kinds that used to leave keys behind: an app built by hand (as the
# shutdown and logging tests do) and a harness.
INNER_TESTS = """
from app.main import create_app
from tests.conftest import base_settings, make_client
from tests.support.mail import Mailbox


async def test_an_app_built_by_hand(database_url: str) -> None:
    app = create_app(base_settings(database_url), email_sender=Mailbox())
    async with app.router.lifespan_context(app), make_client(app) as client:
        assert (await client.get("/api/v1/users/profile")).status_code == 401


async def test_a_harness(harness) -> None:
    email = await harness.user()
    await harness.login(email)
"""


def test_a_test_run_leaves_no_keys_in_redis(tmp_path: Path, repo_root: Path) -> None:
    inner = tmp_path / "test_inner.py"
    inner.write_text(INNER_TESTS)
    # A Redis server of its own: nothing else writes there, so every key counts.
    with redis_server(tmp_path) as server:
        env = {k: v for k, v in os.environ.items() if k != "TEST_REDIS_URL"}
        env["TEST_REDIS_URL"] = server.url
        result = subprocess.run(  # noqa: S603
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "tests.conftest",
                "-p",
                "no:cacheprovider",
                "--rootdir",
                str(repo_root),
                "-c",
                str(repo_root / "pyproject.toml"),
                str(inner),
            ],
            cwd=repo_root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "2 passed" in result.stdout
        with redis.Redis.from_url(server.url) as client:
            assert sorted(client.scan_iter(count=1000)) == []
