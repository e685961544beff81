"""Every error is `{detail, code}` with the right status; bad input never yields a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from tests.conftest import Harness
from tests.support.flows import API, JSON

SECURITY_HEADERS = (
    "x-content-type-options",
    "x-frame-options",
    "x-xss-protection",
    "referrer-policy",
    "content-security-policy",
    "cache-control",
    "x-request-id",
)


def assert_error(response_json: dict[str, object], code: str) -> None:
    assert set(response_json) == {"detail", "code"}
    assert response_json["code"] == code
    assert isinstance(response_json["detail"], str)


async def test_unknown_route_is_404_json(harness: Harness) -> None:
    response = await harness.client.get("/api/v1/nope")
    assert response.status_code == 404
    assert_error(response.json(), "not_found")
    for header in SECURITY_HEADERS:
        assert header in response.headers


async def test_wrong_method_is_405_json(harness: Harness) -> None:
    response = await harness.client.delete("/health")
    assert response.status_code == 405
    assert_error(response.json(), "method_not_allowed")


async def test_body_over_64k_with_content_length(harness: Harness) -> None:
    body = json.dumps({"email": "a@example.com", "password": "x" * 70_000})
    response = await harness.client.post(f"{API}/auth/login", content=body, headers=JSON)
    assert response.status_code == 413
    assert_error(response.json(), "payload_too_large")
    assert "x-content-type-options" in response.headers


async def test_body_over_64k_streamed_without_content_length(harness: Harness) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "a@example.com", "password": "'
        for _ in range(20):
            yield b"x" * 8192
        yield b'"}'

    response = await harness.client.post(f"{API}/auth/login", content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert_error(response.json(), "payload_too_large")


async def test_form_body_over_64k(harness: Harness) -> None:
    response = await harness.client.post(
        f"{API}/auth/token", data={"username": "a@example.com", "password": "x" * 70_000}
    )
    assert response.status_code == 413


async def test_body_just_under_the_limit_is_parsed(harness: Harness) -> None:
    body = json.dumps({"email": "a@example.com", "password": "x" * 1000, "pad": "y" * 60_000})
    response = await harness.client.post(f"{API}/auth/login", content=body, headers=JSON)
    assert response.status_code == 422  # parsed, then refused for the unknown field


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_json_endpoint_refuses_other_media_types(harness: Harness, content_type: str) -> None:
    response = await harness.client.post(
        f"{API}/auth/login",
        content=b'{"email": "a@example.com", "password": "x"}',
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 415
    assert_error(response.json(), "unsupported_media_type")


async def test_json_endpoint_without_content_type_is_415(harness: Harness) -> None:
    response = await harness.client.post(
        f"{API}/auth/login", content=b'{"email": "a@example.com", "password": "x"}'
    )
    assert response.status_code == 415


async def test_json_with_charset_and_vendor_types_is_accepted(harness: Harness) -> None:
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        response = await harness.client.post(
            f"{API}/auth/login",
            content=b'{"email": "a@example.com", "password": "wrong password"}',
            headers={"Content-Type": content_type},
        )
        assert response.status_code == 401, content_type


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"not json",
        b"[]",
        b"null",
        b'"string"',
        b'{"email": "a@example.com", "password": 123}',
        b'{"email": {"$ne": null}, "password": "x"}',
        b'{"email": "a@example.com", "password": "\\ud83d"}',
    ],
)
async def test_malformed_json_is_422_not_500(harness: Harness, body: bytes) -> None:
    response = await harness.client.post(f"{API}/auth/login", content=body, headers=JSON)
    assert response.status_code == 422, response.text
    assert "detail" in response.json()


async def test_undecodable_body_is_400(harness: Harness) -> None:
    response = await harness.client.post(f"{API}/auth/login", content=b"\xff\xfe\x00", headers=JSON)
    assert response.status_code == 400
    assert_error(response.json(), "bad_request")


async def test_validation_errors_do_not_echo_the_input(harness: Harness) -> None:
    response = await harness.client.post(
        f"{API}/auth/register",
        json={"email": "not-an-email", "password": "my secret passphrase"},
    )
    assert response.status_code == 422
    assert "my secret passphrase" not in response.text
    assert "not-an-email" not in response.text


async def test_unhandled_errors_are_a_bare_500(harness: Harness) -> None:
    async def boom() -> None:
        raise RuntimeError("secret internals")

    harness.app.add_api_route("/boom", boom)
    response = await harness.client.get("/boom", headers={"X-Request-ID": "trace-123"})
    assert response.status_code == 500
    assert response.json() == {
        "detail": "Internal server error",
        "code": "internal_error",
        "request_id": "trace-123",
    }
    assert response.headers["x-request-id"] == "trace-123"
    for header in SECURITY_HEADERS:
        assert header in response.headers
    assert "secret internals" not in response.text


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("abc-123", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("has space", False),
        ("tab\there", False),
        ("ünïcode", False),
    ],
)
async def test_request_id_is_echoed_only_when_sane(
    harness: Harness, incoming: str, kept: bool
) -> None:
    response = await harness.client.get(
        "/health", headers=[("X-Request-ID", incoming.encode("utf-8"))]
    )
    echoed = response.headers["x-request-id"]
    assert (echoed == incoming) is kept
    if not kept:
        assert len(echoed) == 32


async def test_a_request_id_is_generated_when_absent(harness: Harness) -> None:
    first = (await harness.client.get("/health")).headers["x-request-id"]
    second = (await harness.client.get("/health")).headers["x-request-id"]
    assert first != second and len(first) == 32
