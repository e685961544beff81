"""The OpenAPI document, as SPA teams generate clients from it (SPEC §6)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import Harness

METHODS = {"get", "put", "post", "delete", "patch"}
ERROR_REF = {"#/components/schemas/ErrorOut", "#/components/schemas/LockedErrorOut"}


@pytest.fixture
async def spec(harness: Harness) -> dict[str, Any]:
    response = await harness.client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_tags_are_declared_with_descriptions(spec: dict[str, Any]) -> None:
    declared = {tag["name"]: tag.get("description", "") for tag in spec["tags"]}
    assert all(len(description) > 10 for description in declared.values())
    used = {tag for _, _, op in operations(spec) for tag in op.get("tags", [])}
    assert used <= set(declared)
    assert {"auth", "users", "health", "cache"} <= used


def test_every_operation_has_a_tag_summary_and_readable_operation_id(
    spec: dict[str, Any],
) -> None:
    ids = []
    for method, path, op in operations(spec):
        where = f"{method} {path}"
        assert len(op.get("tags", [])) == 1, where
        summary = op.get("summary", "")
        # A sentence from the docstring, not a title made from the function name.
        assert summary and not summary.endswith(".") and " " in summary, where
        assert op.get("description", "") != summary, where
        assert re.fullmatch(rf"{op['tags'][0]}-[a-z_]+", op["operationId"]), where
        ids.append(op["operationId"])
    assert len(ids) == len(set(ids))


def test_error_responses_carry_the_detail_code_body(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        errors = {status: r for status, r in op["responses"].items() if status.startswith("4")}
        if path in ("/health", "/health/ready"):
            continue  # public probes answer 200 or 503 only
        assert errors, f"{method} {path} declares no error response"
        for status, response in errors.items():
            if status == "422":
                continue
            content = response["content"]["application/json"]
            assert content["schema"]["$ref"] in ERROR_REF, (method, path, status)
            example = content["example"]
            assert set(example) >= {"detail", "code"}, (method, path, status)
        if "429" in errors:
            assert "Retry-After" in errors["429"]["headers"]


def test_admin_routes_declare_401_and_403(spec: dict[str, Any]) -> None:
    admin = [
        ("GET", "/api/v1/health/detailed"),
        ("GET", "/api/v1/health/database"),
        ("GET", "/api/v1/cache/stats"),
        ("DELETE", "/api/v1/cache"),
    ]
    for method, path in admin:
        op = spec["paths"][path][method.lower()]
        assert {"401", "403"} <= set(op["responses"]), path
        assert op["security"], path  # the lock icon in Swagger UI


def test_role_is_an_enum_and_bodies_are_named_schemas(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert schemas["Role"]["enum"] == ["admin", "user", "guest"]
    assert schemas["UserOut"]["properties"]["role"]["$ref"] == "#/components/schemas/Role"
    for method, path, op in operations(spec):
        body = op.get("requestBody", {}).get("content", {})
        for media in body.values():
            schema = media["schema"]
            # An optional body (logout) is "the schema or nothing".
            refs = [schema, *schema.get("anyOf", [])]
            assert any("$ref" in s for s in refs), f"{method} {path}"
        ok = next((r for s, r in op["responses"].items() if s.startswith("2")), {})
        for media in ok.get("content", {}).values():
            schema = media["schema"]
            assert "$ref" in schema or "$ref" in schema.get("items", {}), f"{method} {path}"


def test_request_bodies_have_examples(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for name in ("LoginIn", "RegisterIn", "RefreshIn", "TokenPair", "UserOut"):
        properties = schemas[name]["properties"]
        described = ("examples", "$ref", "const", "enum", "default")
        assert all(any(k in p for k in described) for p in properties.values()), name


def test_password_flow_for_the_authorize_button(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    (scheme,) = schemes.values()
    assert scheme["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"


def test_metrics_and_docs_are_not_operations(spec: dict[str, Any]) -> None:
    for path in ("/metrics", "/docs", "/redoc", "/openapi.json"):
        assert path not in spec["paths"]
    assert "/health" in spec["paths"] and "/api/v1/health/detailed" in spec["paths"]
