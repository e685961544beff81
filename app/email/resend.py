from __future__ import annotations

import httpx

from app.email.base import EmailError, EmailMessage, TransientEmailError


class ResendSender:
    """Resend's REST API (POST /emails) through the shared HTTP client.

    A direct call rather than the `resend` SDK: the SDK keeps its API key in a
    module global and opens a new HTTP client per call, outside our timeouts.
    """

    name = "resend"

    def __init__(
        self, *, client: httpx.AsyncClient, api_key: str, sender: str, base_url: str
    ) -> None:
        self._client = client
        self._api_key = api_key
        self._sender = sender
        self._url = base_url.rstrip("/") + "/emails"

    async def send(self, message: EmailMessage) -> None:
        headers = {"Authorization": f"Bearer {self._api_key}"}
        if message.idempotency_key:
            headers["Idempotency-Key"] = message.idempotency_key
        payload = {
            "from": self._sender,
            "to": [message.to],
            "subject": message.subject,
            "html": message.html,
            "text": message.text,
        }
        try:
            response = await self._client.post(self._url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise TransientEmailError(f"Resend: {type(exc).__name__}") from exc
        if response.status_code < 300:
            return
        error = f"Resend {response.status_code}: {_reason(response)}"
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientEmailError(error)
        raise EmailError(error)


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("message") or body.get("name") or response.reason_phrase)[:200]
    return response.reason_phrase
