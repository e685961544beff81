"""A passkey registered and used by a real browser: headless Chromium with a CDP
virtual authenticator, a small SPA page on its own localhost origin, and the
service under a real uvicorn server on another (so CORS is exercised too).

The page runs the README's JavaScript as it stands, which uses only the
browser's own WebAuthn JSON helpers (`PublicKeyCredential.parseCreationOptionsFromJSON`
/ `parseRequestOptionsFromJSON` and `toJSON()`). Skipped where Chromium or
the Python Playwright package is missing.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    html_page,
    page_and_api,
    require_chromium,
)
from tests.support.flows import tokens
from tests.support.server import Running

playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
require_chromium()


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_snippet() -> str:
    """The JavaScript of README's "Passkeys" section: the page runs exactly that."""
    text = README.read_text()
    section = text[text.index("## Passkeys\n") :]
    match = re.search(r"```js\n(.*?)```", section, flags=re.DOTALL)
    assert match, "README's Passkeys section has no JavaScript block"
    return match.group(1)


# The SPA: README's functions, with API (this service's origin) from the query string.
PAGE = f"""<!doctype html>
<meta charset="utf-8">
<title>Passkeys</title>
<script>
const API = new URLSearchParams(location.search).get("api");
{readme_snippet()}
</script>
"""


@dataclass
class Stack:
    api: Running
    page_origin: str
    email: str
    access_token: str


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with page_and_api(database_url, html_page(PAGE), APP_NAME="Passkey test") as served:
        access = (await tokens(served.api.client, served.email))["access_token"]
        yield Stack(served.api, served.page_origin, served.email, access)


async def test_a_browser_registers_a_passkey_and_signs_in_with_it(stack: Stack) -> None:
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            cdp = await page.context.new_cdp_session(page)
            await cdp.send("WebAuthn.enable")
            added = await cdp.send(
                "WebAuthn.addVirtualAuthenticator",
                {
                    "options": {
                        "protocol": "ctap2",
                        "transport": "internal",
                        "hasResidentKey": True,
                        "hasUserVerification": True,
                        "isUserVerified": True,
                    }
                },
            )
            api_origin = stack.api.base_url.replace("127.0.0.1", "localhost")
            await page.goto(f"{stack.page_origin}/?api={api_origin}")

            registered = await page.evaluate(
                "([token, name]) => addPasskey(token, name)",
                [stack.access_token, "Virtual authenticator"],
            )
            assert registered["name"] == "Virtual authenticator", registered
            assert registered["transports"] == ["internal"]

            # The authenticator holds a discoverable credential for this RP, under
            # the opaque user handle (not the email, not the user id).
            stored = await cdp.send(
                "WebAuthn.getCredentials", {"authenticatorId": added["authenticatorId"]}
            )
            (credential,) = stored["credentials"]
            assert credential["isResidentCredential"] is True
            assert credential["rpId"] == "localhost"
            handle = base64.b64decode(credential["userHandle"])
            assert len(handle) == 32 and stack.email.encode() not in handle

            signed_in: dict[str, Any] = await page.evaluate("signInWithPasskey()")
            assert "access_token" in signed_in, signed_in
            claims = jwt.decode(signed_in["access_token"], options={"verify_signature": False})
            assert claims["amr"] == ["hwk", "user", "mfa"]
            profile = await stack.api.client.get(
                "/api/v1/users/profile",
                headers={"Authorization": f"Bearer {signed_in['access_token']}"},
            )
            assert profile.json()["email"] == stack.email

            # A second sign-in: the virtual authenticator's counter grew.
            again: dict[str, Any] = await page.evaluate("signInWithPasskey()")
            assert "access_token" in again, again
        finally:
            await browser.close()
