#!/usr/bin/env bash
# Generate TypeScript types from /openapi.json with openapi-typescript, use them
# through openapi-fetch the way an SPA would, and compile with `tsc --strict`.
# Catches untyped bodies, missing error schemas and a role that is not an enum.
# Needs Node.js and the npm registry; not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

uv run --quiet python - "$work/openapi.json" <<'PY'
import json, sys
from app.config import Settings
from app.main import create_app

settings = Settings(
    _env_file=None,
    DATABASE_URL="sqlite+aiosqlite:///:memory:",
    SECRET_KEY="openapi-export-secret-key-0123456789abcdef",
    PASSWORD_PEPPER="openapi-export-pepper-0123456789abcdef",
)
with open(sys.argv[1], "w") as handle:
    json.dump(create_app(settings).openapi(), handle)
PY

cd "$work"
npm init -y >/dev/null
# openapi-typescript drives the TypeScript 5 compiler API.
npm install --silent --no-audit --no-fund openapi-typescript openapi-fetch "typescript@5" >/dev/null
npx --no-install openapi-typescript openapi.json --output schema.d.ts >/dev/null
cp "$repo/scripts/openapi-client.ts" client.ts
cat > tsconfig.json <<'JSON'
{
  "compilerOptions": {
    "strict": true,
    "noEmit": true,
    "target": "es2022",
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "skipLibCheck": false,
    "lib": ["es2022", "dom"]
  },
  "files": ["client.ts"]
}
JSON
npx --no-install tsc -p tsconfig.json
echo "openapi-typescript + openapi-fetch: client.ts compiles under tsc --strict"
