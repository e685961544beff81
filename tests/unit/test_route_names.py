"""Naming a request's route without routing it: the same answer the router gives."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.middleware.route_names import RouteNames


def _scope(app: FastAPI, method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "app": app, "method": method, "path": path, "root_path": ""}


def test_first_route_in_table_order_wins_and_a_method_mismatch_still_names_it() -> None:
    app = FastAPI()
    app.add_api_route("/items/{item_id}/tags", lambda: None, methods=["GET"])
    app.add_api_route("/items/special", lambda: None, methods=["POST"])
    app.add_api_route("/items/{item_id}", lambda: None, methods=["GET", "DELETE"])
    app.add_api_route("/items/special", lambda: None, methods=["PUT"])
    names = RouteNames()
    assert names.template(_scope(app, "GET", "/items/special")) == "/items/{item_id}"
    assert names.template(_scope(app, "PUT", "/items/special")) == "/items/special"
    # Matched by path only (routing answers 405): the first such route.
    assert names.template(_scope(app, "PATCH", "/items/special")) == "/items/special"
    assert names.template(_scope(app, "PATCH", "/items/7")) == "/items/{item_id}"
    assert names.template(_scope(app, "GET", "/items/7/tags")) == "/items/{item_id}/tags"
    assert names.template(_scope(app, "GET", "/nothing/here")) == "<unmatched>"
    # Routes added later are seen.
    app.add_api_route("/later/{x}", lambda: None, methods=["GET"])
    assert names.template(_scope(app, "GET", "/later/1")) == "/later/{x}"
