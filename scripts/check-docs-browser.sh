#!/usr/bin/env bash
# Open /docs and /redoc in headless Chromium with every outside request refused:
# no CSP violation, Swagger UI's Authorize (password flow through
# /api/v1/auth/token) and "Try it out" on GET /api/v1/users/profile answer 200,
# ReDoc renders and searches; and a passkey registered and used through a CDP
# virtual authenticator. The suite runs these too wherever Chromium is installed
# (Playwright, the Python package, is a dev dependency); this script insists on it.
#
#   apt-get install -y chromium      # once (Debian); or set CHROMIUM_PATH
#   scripts/check-docs-browser.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "Chromium not found: apt-get install -y chromium, or set CHROMIUM_PATH" >&2
  exit 1
fi
exec uv run pytest tests/browser -p no:cacheprovider -rs "$@"
