#!/usr/bin/env bash
# The image's build and start-up, without a Docker engine (CI machines have none).
#
# Runs the Dockerfile's own `uv sync` commands (read from the Dockerfile, so the
# two cannot drift apart) into a throw-away tree laid out like the image, then,
# from that tree's working directory: checks no development tool got in, runs
# `backend migrate`, starts `backend serve`, runs the image's HEALTHCHECK
# command against it, fetches the docs, and stops it with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

root=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill "$server_pid"; fi
  rm -rf "$root"
}
trap cleanup EXIT

say() { printf '  container: %s\n' "$*"; }

# --- builder stage ------------------------------------------------------------
export UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
export UV_PROJECT_ENVIRONMENT="$root/app/.venv"
mkdir -p "$root/src" "$root/app"
mapfile -t installs < <(grep -o 'uv sync [^\\]*' Dockerfile | sed 's/[[:space:]]*$//')
[ "${#installs[@]}" -eq 2 ] || { echo "expected two 'uv sync' steps in the Dockerfile" >&2; exit 1; }
# First the dependencies, from the lock file and pyproject.toml alone...
cp pyproject.toml uv.lock "$root/src/"
say "${installs[0]}"
(cd "$root/src" && ${installs[0]} --quiet)
# ...then the project itself.
cp README.md "$root/src/"
cp -r app "$root/src/app"
find "$root/src/app" -name __pycache__ -prune -exec rm -rf {} +
say "${installs[1]}"
(cd "$root/src" && ${installs[1]} --quiet)
rm -rf "$root/src"  # the runtime stage copies the environment only

# --- runtime stage ------------------------------------------------------------
cp alembic.ini "$root/app/"
cp -r alembic "$root/app/alembic"
venv="$root/app/.venv"
for tool in pytest ruff mypy uv pip; do
  if [ -e "$venv/bin/$tool" ]; then echo "development tool in the image: $tool" >&2; exit 1; fi
done
location=$(cd "$root/app" && "$venv/bin/python" -c 'import app, pathlib; print(pathlib.Path(app.__file__).parent)')
case "$location" in
  "$venv"/*) say "app installed as a package ($location)";;
  *) echo "app is not installed into the environment: $location" >&2; exit 1;;
esac
# The email catalogues ship as .po files and compile when first used: render every
# mail in every language from the installed package.
(cd "$root/app" && "$venv/bin/python" - <<'PY'
from datetime import timedelta
from app.core.languages import SUPPORTED_LANGUAGES
from app.email.i18n import format_duration
from app.email.templates import PREVIEW_CONTEXT, render, template_names
names = template_names()
for language in SUPPORTED_LANGUAGES:
    expires_in = format_duration(timedelta(minutes=15), language)
    for name in names:
        mail = render(name, language=language, **PREVIEW_CONTEXT, expires_in=expires_in)
        assert mail.subject and mail.text and f'lang="{language}"' in mail.html, (name, language)
print(f"  container: {len(names)} mails render in {', '.join(SUPPORTED_LANGUAGES)}")
PY
)

port=$("$venv/bin/python" - <<'PY'
import socket
for port in range(8390, 8400):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
PY
)
cd "$root/app"
env_vars=(
  "PATH=$venv/bin:/usr/local/bin:/usr/bin:/bin"
  "HOME=$root"
  "DATABASE_URL=sqlite+aiosqlite:///$root/app/data/app.db"
  "SECRET_KEY=container-smoke-secret-key-0123456789abcdef"
  "PASSWORD_PEPPER=container-smoke-pepper-0123456789abcdef"
  "BCRYPT_ROUNDS=4"
  "EMAIL_BACKEND=console"
)
say "backend migrate"
env -i "${env_vars[@]}" backend migrate
say "backend serve --host 127.0.0.1 --port $port"
env -i "${env_vars[@]}" backend serve --host 127.0.0.1 --port "$port" > "$root/server.log" 2>&1 &
server_pid=$!

# The HEALTHCHECK command exactly as the Dockerfile has it, with our port.
healthcheck=$("$venv/bin/python" - "$repo/Dockerfile" "$port" <<'PY'
import json, re, shlex, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
command = json.loads(re.search(r"HEALTHCHECK[^\n]*?CMD (\[.*?\])\n", text + "\n").group(1))
print(shlex.join(arg.replace(":8000/", f":{sys.argv[2]}/") for arg in command))
PY
)
healthy=""
for _ in $(seq 1 120); do
  if env -i "${env_vars[@]}" bash -c "$healthcheck" 2>/dev/null; then healthy=yes; break; fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.5
done
if [ -z "$healthy" ]; then cat "$root/server.log" >&2; echo "HEALTHCHECK never passed" >&2; exit 1; fi
say "HEALTHCHECK passed"
"$venv/bin/python" - "$port" <<'PY'
import sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
for path in ("/health/ready", "/docs", "/static/vendor/swagger-ui-bundle.js", "/openapi.json", "/metrics"):
    with urllib.request.urlopen(base + path, timeout=5) as response:
        assert response.status == 200, (path, response.status)
print("  container: /health/ready, /docs and its assets, /openapi.json, /metrics answer 200")
PY
kill -TERM "$server_pid"
for _ in $(seq 1 60); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$server_pid" 2>/dev/null; then echo "serve did not stop on SIGTERM" >&2; exit 1; fi
status=0; wait "$server_pid" || status=$?
server_pid=""
grep -q '"shutdown_complete"' "$root/server.log" || { cat "$root/server.log" >&2; exit 1; }
# A graceful stop is a normal exit: supervisors read 143 (killed by SIGTERM) as a failure.
[ "$status" -eq 0 ] || { cat "$root/server.log" >&2; echo "serve exited $status on SIGTERM" >&2; exit 1; }
say "stopped cleanly on SIGTERM (exit 0)"
