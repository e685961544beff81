"""CAPTCHA on the public forms: Cloudflare Turnstile or hCaptcha (SPEC §7.4).

With `CAPTCHA_PROVIDER` set, register, password reset, verification resend
and magic-link requests carry the widget's token in `X-Captcha-Token`. The
token is posted with the secret and the client's address to the provider's
siteverify URL, which answers JSON with `success`. Only `"success": true`
passes; a missing token, a refusal, a timeout (5 s), an error status or an
answer that is not that JSON all fail closed: 400 `captcha_failed`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import structlog

from app.core import metrics
from app.errors import CaptchaFailed
from app.services.context import ServiceContext

log = structlog.get_logger(__name__)

TIMEOUT_SECONDS = 5.0
# Turnstile tokens are at most 2,048 characters; hCaptcha's are of the same order.
MAX_TOKEN_LENGTH = 8192
MAX_ANSWER_BYTES = 64 * 1024


async def verify_captcha(
    ctx: ServiceContext,
    token: str | None,
    *,
    remote_ip: str | None,
) -> None:
    """Raise CaptchaFailed unless CAPTCHA is off or the provider accepts `token`."""
    settings = ctx.settings
    url = settings.captcha_verify_url
    if url is None or settings.CAPTCHA_SECRET is None:
        return
    if not token or len(token) > MAX_TOKEN_LENGTH:
        metrics.captcha_check("refused")
        raise CaptchaFailed()
    form = {"secret": settings.CAPTCHA_SECRET.get_secret_value(), "response": token}
    if remote_ip:
        form["remoteip"] = remote_ip
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            response = await ctx.http.post(url, data=form, timeout=TIMEOUT_SECONDS)
    except (TimeoutError, httpx.HTTPError) as exc:
        _unavailable(type(exc).__name__)
        raise CaptchaFailed() from exc
    answer = _json_object(response)
    if answer is None:
        _unavailable(f"status {response.status_code}, not a JSON object")
        raise CaptchaFailed()
    if answer.get("success") is not True:
        metrics.captcha_check("refused")
        raise CaptchaFailed()
    metrics.captcha_check("passed")


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    if response.status_code != 200 or len(response.content) > MAX_ANSWER_BYTES:
        return None
    try:
        answer = response.json()
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _unavailable(reason: str) -> None:
    metrics.captcha_check("unavailable")
    log.warning("captcha_provider_unavailable", reason=reason)
