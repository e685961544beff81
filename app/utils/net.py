"""Who is the client? The peer address, or X-Forwarded-For from a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import MutableMapping, Sequence
from functools import lru_cache
from typing import Any

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_SCOPE_KEY = "app.client_ip"
Scope = MutableMapping[str, Any]


# Parsing an address costs microseconds and the same few clients come back on
# every request: both pure functions keep a bounded cache.
@lru_cache(maxsize=4096)
def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: str, networks: Sequence[IPNetwork]) -> bool:
    ip = _parse(address)
    return ip is not None and any(ip in network for network in networks)


def _header(scope: Scope, name: bytes) -> str | None:
    values = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == name]
    return ",".join(values) if values else None


def resolve_client_ip(scope: Scope, trusted: Sequence[IPNetwork]) -> str | None:
    """The client address for rate limits and audit rows, cached on the scope.

    X-Forwarded-For is read right to left and only while each hop is a trusted
    proxy; the first untrusted address is the client. With no trusted
    proxies, the header is ignored.
    """
    cached = scope.get(_SCOPE_KEY)
    if cached is not None:
        return str(cached) or None
    client = scope.get("client")
    peer = client[0] if client else None
    result = peer
    if peer and trusted and _trusted(peer, trusted):
        forwarded = _header(scope, b"x-forwarded-for")
        if forwarded:
            hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
            for hop in reversed(hops):
                if _parse(hop) is None:
                    break  # garbage: stop at the last address we could trust
                result = hop
                if not _trusted(hop, trusted):
                    break
    scope[_SCOPE_KEY] = result or ""
    return result


def is_https(scope: Scope, trusted: Sequence[IPNetwork]) -> bool:
    """True for a TLS request, or one a trusted proxy says arrived over TLS."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    client = scope.get("client")
    if client and trusted and _trusted(client[0], trusted):
        proto = _header(scope, b"x-forwarded-proto")
        if proto:
            return proto.split(",")[-1].strip().lower() == "https"
    return False


@lru_cache(maxsize=4096)
def client_bucket(address: str | None) -> str:
    """The rate-limit identity of a client address.

    An IPv6 client usually holds a whole /64, so it is limited per /64 (else
    it could rotate addresses freely); IPv4-mapped addresses count as IPv4.
    """
    if not address:
        return "unknown"
    ip = _parse(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return address
