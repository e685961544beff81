"""Dockerfile, .dockerignore and docker-compose.yml say what the README promises.

No Docker engine runs here; scripts/container-smoke.sh (run by CI) executes the
Dockerfile's install and start-up steps, and `docker compose config` checks the
compose file where a compose client exists.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings

yaml = pytest.importorskip("yaml")


@pytest.fixture
def dockerfile(repo_root: Path) -> str:
    return (repo_root / "Dockerfile").read_text()


def stages(text: str) -> list[str]:
    return re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]


@pytest.fixture
def compose(repo_root: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((repo_root / "docker-compose.yml").read_text())
    return document


def test_two_stages_uv_builder_and_slim_runtime(dockerfile: str) -> None:
    builder, runtime = stages(dockerfile)
    assert builder.startswith("${PYTHON_IMAGE} AS builder")
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in dockerfile
    assert "uv sync --locked --no-dev --no-editable" in builder
    assert "ghcr.io/astral-sh/uv" in builder
    assert runtime.startswith("${PYTHON_IMAGE} AS runtime")
    # Nothing to build with in the final image: no uv, no compiler, no package installs.
    for tool in ("astral-sh/uv", "apt-get", "gcc", "build-essential", "pip install"):
        assert tool not in runtime, tool
    assert "COPY --from=builder /app/.venv /app/.venv" in runtime


def test_runtime_is_non_root_with_healthcheck_and_migrations(dockerfile: str) -> None:
    runtime = stages(dockerfile)[1]
    user = re.search(r"^USER (\S+)$", runtime, flags=re.MULTILINE)
    assert user and user.group(1).split(":")[0] not in ("0", "root")
    assert user.group(1).split(":")[0].isdigit()  # numeric, for runAsNonRoot checks
    joined = runtime.replace("\\\n", " ")
    healthcheck = re.search(r"HEALTHCHECK .*?CMD (\[.*?\])\n", joined)
    assert healthcheck and "http://127.0.0.1:8000/health" in healthcheck.group(1)
    json.loads(healthcheck.group(1))  # exec form
    assert 'CMD ["backend", "serve", "--host", "0.0.0.0"]' in runtime
    # app/database/migrations.py finds alembic.ini in the working directory.
    assert "WORKDIR /app" in runtime
    assert "COPY alembic.ini ./" in runtime and "COPY alembic ./alembic" in runtime


def test_builds_without_buildkit(dockerfile: str) -> None:
    """The legacy builder (DOCKER_BUILDKIT=0, older engines) knows none of these."""
    instructions = [line for line in dockerfile.splitlines() if not line.startswith("#")]
    text = "\n".join(instructions)
    for buildkit_only in ("--mount", "--link", "--chmod", "--parents", "--exclude", "<<"):
        assert buildkit_only not in text, buildkit_only


def test_dockerignore_keeps_secrets_and_clutter_out(repo_root: Path) -> None:
    ignored = set((repo_root / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", "data", "tests", "**/__pycache__"} <= ignored


def test_ci_runs_the_dockerfile_install_steps(repo_root: Path) -> None:
    smoke = (repo_root / "scripts" / "container-smoke.sh").read_text()
    assert "grep -o 'uv sync" in smoke and "Dockerfile" in smoke
    assert "scripts/container-smoke.sh" in (repo_root / ".ci" / "run").read_text()


def test_compose_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "backend", "mailpit"} <= set(services)
    assert services["migrate"]["command"] == ["backend", "migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    backend = services["backend"]
    assert backend["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert backend["depends_on"]["redis"]["condition"] == "service_healthy"
    assert backend["command"][:4] == ["backend", "serve", "--host", "0.0.0.0"]  # noqa: S104
    assert "mailpit" in services["mailpit"]["image"]
    # Mailpit's UI shows every reset link: published on this machine only.
    assert services["mailpit"]["ports"]
    assert all(str(port).startswith("127.0.0.1:") for port in services["mailpit"]["ports"])
    environment = backend["environment"]
    assert environment["EMAIL_BACKEND"] == "smtp" and environment["SMTP_HOST"] == "mailpit"
    assert environment["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
    # Keys must come from the operator, never from the file.
    assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert environment["PASSWORD_PEPPER"].startswith("${PASSWORD_PEPPER:?")
    assert set(environment) <= set(Settings.model_fields), "unknown setting names"


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(  # noqa: S603
            [docker, "compose", "version"], capture_output=True, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_config(repo_root: Path, tmp_path: Path) -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("no docker compose client")
    empty = tmp_path / "empty.env"  # a developer's own .env must not change the answer
    empty.write_text("")
    command = [*command, "--env-file", str(empty)]
    env = {"PATH": "/usr/bin:/bin", "SECRET_KEY": "k" * 48, "PASSWORD_PEPPER": "p" * 48}
    result = subprocess.run(  # noqa: S603
        [*command, "config", "--quiet"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    missing = subprocess.run(  # noqa: S603
        [*command, "config", "--quiet"],
        cwd=repo_root,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode != 0 and "SECRET_KEY" in missing.stderr
