"""Where the browser tests find Chromium, and how they start it."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
# As the machine's probe runs it: no background traffic to Google's hosts.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip the calling test module, with the reason, where Chromium is absent."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium is not installed (looked for {CHROMIUM})", allow_module_level=True)
