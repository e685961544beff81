"""Print the service's OpenAPI document (what /openapi.json serves), no server needed.

Run from anywhere inside the repository: `uv run python clients/typescript/scripts/dump_openapi.py`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from app.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402

# Fixed values: the document must not depend on the machine that dumps it.
settings = Settings(
    _env_file=None,
    DATABASE_URL="sqlite+aiosqlite:///:memory:",
    SECRET_KEY="openapi-export-secret-key-0123456789abcdef",  # noqa: S106 (not a secret)
    PASSWORD_PEPPER="openapi-export-pepper-0123456789abcdef",  # noqa: S106
)
json.dump(create_app(settings).openapi(), sys.stdout, indent=2, ensure_ascii=False)
sys.stdout.write("\n")
