"""The README stays true to the code it documents."""

from __future__ import annotations

import re
from pathlib import Path

from app.config import Settings


def section(readme: str, title: str) -> str:
    start = readme.index(f"## {title}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else None]


def test_quick_start_is_the_two_commands(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    first = re.split(r"^## ", readme, flags=re.MULTILINE)[1]
    assert first.startswith("Quick start")
    block = re.search(r"```sh\n(.*?)```", first, flags=re.DOTALL)
    assert block and block.group(1).split("\n")[:2] == ["uv run backend serve", "uv run pytest"]


def test_configuration_table_lists_every_setting(repo_root: Path) -> None:
    table = section((repo_root / "README.md").read_text(), "Configuration")
    first_cells = [row.split("|")[1] for row in table.splitlines() if row.startswith("| `")]
    documented = {name for cell in first_cells for name in re.findall(r"`([A-Z0-9_]+)`", cell)}
    assert documented == set(Settings.model_fields)


def test_every_metric_is_documented(repo_root: Path) -> None:
    from prometheus_client.metrics import MetricWrapperBase

    from app.core import metrics

    readme = section((repo_root / "README.md").read_text(), "Health, metrics and logs")
    defined = [m for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)]
    assert len(defined) >= 10
    for metric in defined:
        (family,) = metric.describe()
        name = family.name + ("_total" if family.type == "counter" else "")
        assert f"`{name}`" in readme, name


def test_explains_x_xss_protection(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    assert "`X-XSS-Protection: 0`" in readme and "OWASP" in readme


def test_curl_walkthrough_sets_every_variable_it_uses(repo_root: Path) -> None:
    walkthrough = section((repo_root / "README.md").read_text(), "Try it with curl")
    block = re.search(r"```sh\n(.*?)```", walkthrough, flags=re.DOTALL)
    assert block
    assigned: set[str] = set()
    for line in block.group(1).splitlines():
        code = line.split("#", 1)[0]  # the block's comments hold no code
        used = set(re.findall(r"\$\{?([A-Za-z_]\w*)", code))
        assert used <= assigned, f"{sorted(used - assigned)} used before being set: {line}"
        assigned |= set(re.findall(r"^\s*([A-Za-z_]\w*)=", code))
    assert {"ACCESS", "REFRESH"} <= assigned


def _documented_routes(readme: str) -> set[tuple[str, str]]:
    """(method, path) pairs of the API table. A `/suffix` cell continues the row's first
    path: from the segment it starts with (`/login/verify` after `.../login/options`),
    else beside its last segment (`/logout-all` after `.../logout`)."""
    documented = set()
    for row in section(readme, "API").splitlines():
        if not row.startswith("| `"):
            continue
        cell = row.split("|")[1]
        methods: list[str] = []
        base = ""
        for token in re.findall(r"`([^`]+)`", cell):
            full = re.fullmatch(r"((?:[A-Z]+, )*[A-Z]+) (/\S*)", token)
            if full:
                methods = full.group(1).split(", ")
                path = base = full.group(2)
            elif token.startswith("/") and methods:
                segments = base.split("/")
                first = token.split("/")[1]
                cut = len(segments) - 1 - segments[::-1].index(first) if first in segments else -1
                path = "/".join(segments[:cut]) + token
            else:
                continue
            documented |= {(method, path) for method in methods}
    return documented


def test_api_table_lists_every_route(repo_root: Path) -> None:
    from app.main import create_app
    from tests.conftest import base_settings

    app = create_app(base_settings("sqlite+aiosqlite:///unused.db"))
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    documented = _documented_routes((repo_root / "README.md").read_text())
    assert routes - documented == set()
    assert documented - routes == {("GET", "/metrics")}  # outside the OpenAPI document


def test_oauth_flow_is_described(repo_root: Path) -> None:
    text = section((repo_root / "README.md").read_text(), "Social login (OAuth)")
    for step in ("/initiate", "/callback", "`code`", "POST /api/v1/oauth/exchange", "redirect_to"):
        assert step in text.replace("$B/oauth/exchange", "POST /api/v1/oauth/exchange"), step


def test_layout_names_every_command(repo_root: Path) -> None:
    from app.cli import cli

    layout = section((repo_root / "README.md").read_text(), "Layout")
    line = next(line for line in layout.splitlines() if line.strip().startswith("cli.py"))
    listed = set(re.findall(r"[a-z][a-z-]+", line.split("backend", 1)[1]))
    commands = {
        command.name or getattr(command.callback, "__name__", "")
        for command in cli.registered_commands
    }
    assert listed == commands
