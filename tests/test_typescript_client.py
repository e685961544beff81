"""The TypeScript client's README example is the file its typecheck compiles."""

from __future__ import annotations

import re
from pathlib import Path

EXAMPLE = Path("clients/typescript/test/types/readme-example.ts")


def test_the_readme_example_is_the_typechecked_file(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    section = readme[readme.index("## Using it from an SPA\n") :]
    block = re.search(r"```ts\n(.*?)```", section, flags=re.DOTALL)
    assert block, "README's SPA section has no TypeScript block"
    compiled = (repo_root / EXAMPLE).read_text()
    code = "".join(line for line in compiled.splitlines(keepends=True) if not line.startswith("//"))
    assert code == block.group(1), f"README and {EXAMPLE} differ: copy one to the other"
