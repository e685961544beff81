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
