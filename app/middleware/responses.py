"""Sending a small JSON response straight from ASGI middleware."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Send


async def send_json(
    send: Send, status: int, body: Any, *, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
