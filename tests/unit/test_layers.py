"""The folder tree is the import graph: endpoints -> services -> repositories -> models."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"

# A layer may import only from the layers listed (and from shared modules).
FORBIDDEN = {
    "models": ("app.repositories", "app.services", "app.api", "app.schemas", "fastapi"),
    "repositories": ("app.services", "app.api", "fastapi"),
    "services": ("app.api", "app.dependencies", "app.main", "fastapi", "starlette"),
    "schemas": ("app.services", "app.repositories", "app.api", "fastapi"),
    "core": ("app.services", "app.repositories", "app.api", "app.models"),
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_layers_import_only_downwards() -> None:
    problems = []
    for layer, forbidden in FORBIDDEN.items():
        for path in (APP / layer).rglob("*.py"):
            for name in imports(path):
                if any(name == f or name.startswith(f + ".") for f in forbidden):
                    problems.append(f"{path.relative_to(APP)} imports {name}")
    assert problems == []


def test_repositories_never_commit() -> None:
    offenders = [
        str(path.relative_to(APP))
        for path in (APP / "repositories").rglob("*.py")
        if ".commit(" in path.read_text()
    ]
    assert offenders == []
