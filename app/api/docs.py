"""Swagger UI and ReDoc served with their assets from this service (no CDN, no inline script)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

VENDOR_ASSETS = Path(fastapi_offline.__file__).parent / "static"
OWN_ASSETS = Path(__file__).resolve().parent.parent / "static"
# ReDoc's sidebar footer always loads its maker's logo from a CDN. Under the
# docs CSP that is a violation (and offline, a failed request): the bundle is
# served with an inline blank image in its place.
REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
BLANK_IMAGE = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"


@cache
def redoc_bundle() -> bytes:
    return (VENDOR_ASSETS / "redoc.standalone.js").read_bytes().replace(REDOC_CDN_LOGO, BLANK_IMAGE)


_SWAGGER = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - Swagger UI</title>
<link rel="icon" type="image/png" href="/static/vendor/favicon.png">
<link rel="stylesheet" href="/static/vendor/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/vendor/swagger-ui-bundle.js"></script>
<script src="/static/app/swagger-init.js"></script>
</body>
</html>
"""

_REDOC = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ReDoc</title>
<link rel="icon" type="image/png" href="/static/vendor/favicon.png">
</head>
<body>
<redoc spec-url="/openapi.json"></redoc>
<script src="/static/redoc/redoc.standalone.js"></script>
</body>
</html>
"""


def tidy_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop descriptions that only repeat the summary (one-line docstrings)."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            description = operation.get("description", "")
            if description.strip().rstrip(".") == operation.get("summary"):
                del operation["description"]
    return schema


def install_docs(app: FastAPI) -> None:
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = tidy_openapi(build_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.mount("/static/vendor", StaticFiles(directory=VENDOR_ASSETS), name="docs-vendor")
    app.mount("/static/app", StaticFiles(directory=OWN_ASSETS), name="docs-app")
    swagger = _SWAGGER.format(title=app.title)
    redoc = _REDOC.format(title=app.title)

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger)

    @app.get("/static/redoc/redoc.standalone.js", include_in_schema=False)
    async def redoc_script() -> Response:
        return Response(redoc_bundle(), media_type="text/javascript; charset=utf-8")

    @app.get("/redoc", include_in_schema=False)
    async def redoc_ui() -> HTMLResponse:
        return HTMLResponse(redoc)
