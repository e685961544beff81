"""/docs and /redoc load only this service's own assets (the browser check is in tests/browser)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Harness

ASSET = re.compile(r'(?:src|href|spec-url)="([^"]+)"')


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_pages_use_local_assets_and_no_inline_script(harness: Harness, page: str) -> None:
    response = await harness.client.get(page)
    assert response.status_code == 200
    html = response.text
    assets = ASSET.findall(html)
    assert assets and all(url.startswith("/") and not url.startswith("//") for url in assets)
    assert "<script>" not in html.replace(" ", "")  # every script has a src
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert "frame-ancestors 'none'" in csp
    for url in assets:
        fetched = await harness.client.get(url)
        assert fetched.status_code == 200, url


async def test_the_redoc_bundle_loads_nothing_from_a_cdn(harness: Harness) -> None:
    response = await harness.client.get("/static/redoc/redoc.standalone.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "cdn.redoc.ly" not in response.text
    assert "worker-src 'self' blob:" in response.headers["content-security-policy"]


async def test_swagger_ui_never_calls_the_online_validator(harness: Harness) -> None:
    script = (await harness.client.get("/static/app/swagger-init.js")).text
    assert "validatorUrl: null" in script
    assert 'url: "/openapi.json"' in script
