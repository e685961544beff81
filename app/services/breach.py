"""Breached passwords: the Pwned Passwords range API, with k-anonymity (SPEC §7.4).

For a new password, only the first five hex characters of its SHA-1 leave the
machine (`GET <HIBP_API_URL>/range/<prefix>` with `Add-Padding: true`); the
API answers every suffix it knows under that prefix with a count, padded with
fake zero-count entries so the answer's size reveals nothing either. The
password is refused when its own suffix is listed with a count above 0.

The check fails open: no valid answer within 2 s (timeout, connection error,
a non-200 status, a body that is not the range format) accepts the password,
logs a warning, counts `auth_password_breach_checks_total{result="failed"}`,
and skips checks for the next 60 s (`result="paused"`) so an outage costs one
slow request, not every request.

Answers are cached per process, by prefix, for an hour (at most 256 prefixes,
the least recently used dropped first). Per process rather than in Redis:
the ranges are public data, an answer is ~30 KB that every worker would
otherwise store and fetch again on each check, and a miss costs one outbound
call, nothing in correctness.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import OrderedDict

import httpx
import structlog

from app.config import Settings
from app.core import metrics
from app.core.clock import Clock
from app.errors import BreachedPassword

log = structlog.get_logger(__name__)

TIMEOUT_SECONDS = 2.0
PAUSE_SECONDS = 60.0
CACHE_SECONDS = 3600.0
CACHE_ENTRIES = 256
# A real answer is 800-1,000 lines of 40 bytes; anything far larger is not one.
MAX_BODY_BYTES = 1 << 20
_LINE = re.compile(r"^([0-9A-Fa-f]{35}):(\d{1,12})$")


class RangeUnavailable(Exception):
    """The range API gave no usable answer."""


def sha1_split(password: str) -> tuple[str, str]:
    """(first 5, last 35) upper-case hex characters of the password's SHA-1."""
    digest = hashlib.sha1(  # noqa: S324  (the API's own scheme; not for storage)
        password.encode("utf-8", "surrogatepass"), usedforsecurity=False
    ).hexdigest()
    digest = digest.upper()
    return digest[:5], digest[5:]


def parse_range(body: str) -> str:
    """The suffixes listed with a count above 0, as `"\\nSUFFIX\\n...SUFFIX\\n"`.

    Raises RangeUnavailable unless every line is `<35 hex>:<count>`.
    """
    found = []
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    if not lines:
        raise RangeUnavailable("empty answer")
    for line in lines:
        match = _LINE.match(line)
        if match is None:
            raise RangeUnavailable("not the range format")
        if int(match.group(2)) > 0:
            found.append(match.group(1).upper())
    return "\n" + "\n".join(found) + "\n"


class BreachCheck:
    """Refuses passwords known from breaches; one per process (see the module notes)."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        clock: Clock,
        *,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.enabled = settings.PASSWORD_BREACH_CHECK
        self._base = settings.HIBP_API_URL
        self._http = http
        self._clock = clock
        self._timeout = timeout
        self._paused_until = 0.0
        # prefix -> (valid until, listed suffixes as parse_range returns them)
        self._cache: OrderedDict[str, tuple[float, str]] = OrderedDict()

    async def check(self, password: str) -> None:
        """Raise BreachedPassword if the range API lists the password (fails open)."""
        if not self.enabled:
            return
        prefix, suffix = sha1_split(password)
        listed = await self._listed(prefix)
        if listed is None:
            return
        if f"\n{suffix}\n" in listed:
            metrics.password_breach_check("breached")
            raise BreachedPassword()
        metrics.password_breach_check("clean")

    async def _listed(self, prefix: str) -> str | None:
        now = self._clock.now().timestamp()
        cached = self._cache.get(prefix)
        if cached is not None and cached[0] > now:
            self._cache.move_to_end(prefix)
            return cached[1]
        if now < self._paused_until:
            metrics.password_breach_check("paused")
            return None
        try:
            listed = await self._fetch(prefix)
        except RangeUnavailable as exc:
            self._paused_until = now + PAUSE_SECONDS
            metrics.password_breach_check("failed")
            log.warning(
                "password_breach_check_unavailable",
                reason=str(exc),
                accepted=True,
                paused_seconds=PAUSE_SECONDS,
            )
            return None
        self._cache[prefix] = (now + CACHE_SECONDS, listed)
        self._cache.move_to_end(prefix)
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return listed

    async def _fetch(self, prefix: str) -> str:
        url = f"{self._base}/range/{prefix}"
        try:
            async with asyncio.timeout(self._timeout):
                async with self._http.stream(
                    "GET", url, headers={"Add-Padding": "true"}, timeout=self._timeout
                ) as response:
                    if response.status_code != 200:
                        raise RangeUnavailable(f"status {response.status_code}")
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_BODY_BYTES:
                            raise RangeUnavailable("answer too large")
        except TimeoutError as exc:
            raise RangeUnavailable("no answer in time") from exc
        except httpx.HTTPError as exc:
            raise RangeUnavailable(type(exc).__name__) from exc
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError as exc:
            raise RangeUnavailable("not the range format") from exc
        return parse_range(text)
