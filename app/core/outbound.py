"""Outbound HTTP to addresses users chose (webhooks), with SSRF defence.

A target is checked twice: its URL when it is saved, and the addresses its
host resolves to right before each request (DNS may change in between). The
request then goes to the address that was checked - the URL is rewritten to
the IP, with the original `Host` header and TLS server name - so a second,
different DNS answer cannot slip in. Redirects are never followed and only the
first bytes of an answer are read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2048
RESPONSE_BODY_LIMIT = 1024


class UnsafeTarget(Exception):
    """The URL is not http(s), or its host is (or resolves to) a non-public address."""


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int
    body: bytes


def is_public(address: IPAddress) -> bool:
    """A globally routable unicast address (not loopback, private, link-local, ...)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL without userinfo; else UnsafeTarget."""
    if len(url) > MAX_URL_LENGTH or any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise UnsafeTarget("malformed URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget("malformed URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget("not an http(s) URL")
    if parts.username is not None or parts.password is not None or "\\" in url:
        raise UnsafeTarget("credentials in the URL")
    if not parts.hostname.isascii():
        raise UnsafeTarget("the host must be written in ASCII (its xn-- form)")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def resolve(url: str, *, allow_private: bool) -> IPAddress:
    """The address to connect to for `url`, after checking every address the host has."""
    _, host, port = check_url(url)
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError) as exc:
            raise UnsafeTarget("the host does not resolve") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not addresses:
            raise UnsafeTarget("the host does not resolve")
    if not allow_private and not all(is_public(address) for address in addresses):
        raise UnsafeTarget("the host is not a public address")
    return addresses[0]


async def post_pinned(
    http: httpx.AsyncClient,
    url: str,
    address: IPAddress,
    *,
    content: bytes,
    headers: dict[str, str],
    time_limit: float,
    body_limit: int = RESPONSE_BODY_LIMIT,
) -> Answer:
    """POST to `url`, connecting to `address` (the checked one), reading at most
    `body_limit` bytes of the answer. Redirects are answers, not followed."""
    parts = urlsplit(url)
    host_ip = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{host_ip}:{parts.port}" if parts.port else host_ip
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = parts.netloc
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    request = http.build_request(
        "POST",
        pinned,
        content=content,
        headers={**headers, "host": host_header},
        timeout=httpx.Timeout(time_limit),
        extensions=extensions,
    )
    # The whole exchange, not each read, is bounded by `time_limit`.
    async with asyncio.timeout(time_limit):
        response = await http.send(request, stream=True, follow_redirects=False)
        try:
            body = b""
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) >= body_limit:
                    break
        finally:
            await response.aclose()
    return Answer(response.status_code, body[:body_limit])
