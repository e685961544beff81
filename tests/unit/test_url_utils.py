from __future__ import annotations

import pytest

from app.utils.url_utils import UnsafeRedirect, add_query, frontend_link, safe_redirect

BASE = "https://app.example.com"


def test_frontend_link_encodes_parameters() -> None:
    assert frontend_link(BASE, "/verify-email", token="a+b/c") == (
        "https://app.example.com/verify-email?token=a%2Bb%2Fc"
    )


def test_add_query_keeps_existing_parameters() -> None:
    assert add_query("https://a.example/x?y=1#f", code="z") == "https://a.example/x?y=1&code=z#f"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (None, BASE),
        ("", BASE),
        ("/dashboard?tab=1", "https://app.example.com/dashboard?tab=1"),
        ("https://app.example.com/welcome", "https://app.example.com/welcome"),
        ("https://APP.example.com:443/x", "https://APP.example.com:443/x"),
    ],
)
def test_accepted_targets(target: str | None, expected: str) -> None:
    assert safe_redirect(target, BASE) == expected


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "/\\evil.example",
        "https://evil.example/",
        "http://app.example.com/",
        "https://app.example.com:8443/",
        "https://app.example.com.evil.example/",
        "https://user@app.example.com/",
        "https://app.example.com@evil.example/",
        "https://app.example.com\\@evil.example/",
        "javascript:alert(1)",
        "data:text/html,x",
        "/ok\r\nSet-Cookie: x=1",
        "/tab\tinside",
        "evil.example",
        "/lone-\udc80-surrogate",
        "https://app.example.com:99999/",
    ],
)
def test_refused_targets(target: str) -> None:
    with pytest.raises(UnsafeRedirect):
        safe_redirect(target, BASE)
