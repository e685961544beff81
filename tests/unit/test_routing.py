"""The flat route table is the same API as FastAPI's nested include."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.api.responses import errors
from app.api.routing import include_flat
from app.api.v1.router import PREFIX, ROUTERS
from app.main import _operation_id


def _app() -> FastAPI:
    return FastAPI(generate_unique_id_function=_operation_id)


def test_flat_include_documents_exactly_what_include_router_does() -> None:
    flat, nested = _app(), _app()
    for router in ROUTERS:
        include_flat(flat, router, prefix=PREFIX, responses=errors(503))
        nested.include_router(router, prefix=PREFIX, responses=errors(503))
    flat_doc, nested_doc = flat.openapi(), nested.openapi()
    assert list(flat_doc["paths"]) == list(nested_doc["paths"])
    assert flat_doc == nested_doc


def test_flat_include_leaves_no_nested_router_to_walk() -> None:
    app = _app()
    for router in ROUTERS:
        include_flat(app, router, prefix=PREFIX)
    api_routes = [route for route in app.router.routes if route.path.startswith(PREFIX)]  # type: ignore[attr-defined]
    assert api_routes
    assert all(isinstance(route, APIRoute) for route in api_routes)
    assert len(api_routes) == sum(len(router.routes) for router in ROUTERS)


def test_applications_of_one_process_share_one_route_table() -> None:
    """Routes are built once per process; every app gets the whole table and the same document."""
    from app.main import create_app
    from tests.conftest import base_settings

    first = create_app(base_settings("sqlite+aiosqlite://"))
    second = create_app(base_settings("sqlite+aiosqlite://"))
    api = [route for route in first.router.routes if isinstance(route, APIRoute)]
    assert len(api) == len([r for r in second.router.routes if isinstance(r, APIRoute)])
    assert {route.path for route in api} >= {"/health", "/metrics", f"{PREFIX}/auth/login"}
    assert first.openapi() == second.openapi()
    # Each app owns its list: adding a route to one leaves the other alone.
    first.router.add_api_route("/only-here", lambda: None)
    assert all(getattr(route, "path", "") != "/only-here" for route in second.router.routes)
