# Production image: `docker build -t auth-backend .`, or `docker compose up --build`.
# Two stages: uv builds a virtual environment from the lock file; the runtime
# stage gets only that environment, the migrations, and a non-root user. No
# compiler, no uv, no tests in the final image.
#
# Plain Dockerfile syntax only (no `RUN --mount`), so it builds with BuildKit
# and with the legacy builder (DOCKER_BUILDKIT=0, older engines, Podman) alike.
#
# CI runs the same install commands and starts the result the same way
# (scripts/container-smoke.sh), since CI machines have no Docker engine.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Dependencies first, in their own layer: rebuilt only when the lock file changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --no-editable --no-install-project
# Then the application itself, installed as a package (not a link to /src).
COPY README.md ./
COPY app ./app
RUN uv sync --locked --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app
WORKDIR /app
# Code and migrations belong to root and are read-only for the service user;
# only ./data (the embedded SQLite file and its generated keys) is writable.
COPY --from=builder /app/.venv /app/.venv
COPY alembic.ini ./
COPY alembic ./alembic
RUN install --directory --owner=app --group=app /app/data
ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
# uvicorn finishes requests in flight for up to 20 s after SIGTERM, then the
# app drains background jobs for up to 10 s: give `docker stop` 35 s.
STOPSIGNAL SIGTERM
CMD ["backend", "serve", "--host", "0.0.0.0"]
