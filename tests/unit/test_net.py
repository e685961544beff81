from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from app.utils.net import client_bucket, is_https, resolve_client_ip

TRUSTED = (ipaddress.ip_network("10.0.0.0/8"),)


def scope(peer: str, **headers: str) -> dict[str, Any]:
    return {
        "type": "http",
        "scheme": "http",
        "client": (peer, 1234),
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert resolve_client_ip(scope("1.2.3.4", x_forwarded_for="6.6.6.6"), ()) == "1.2.3.4"


def test_untrusted_peer_cannot_spoof() -> None:
    assert resolve_client_ip(scope("1.2.3.4", x_forwarded_for="6.6.6.6"), TRUSTED) == "1.2.3.4"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("6.6.6.6, 203.0.113.7", "203.0.113.7"),  # the client prepended a forged hop
        ("203.0.113.7, 10.1.1.1", "203.0.113.7"),  # two trusted proxies
        ("10.2.2.2, 10.1.1.1", "10.2.2.2"),  # all trusted: the leftmost
        ("garbage, 203.0.113.7", "203.0.113.7"),
        ("203.0.113.7, garbage", "10.0.0.5"),  # unparseable hop: stop at the proxy
    ],
)
def test_trusted_proxy_chain_read_right_to_left(header: str, expected: str) -> None:
    assert resolve_client_ip(scope("10.0.0.5", x_forwarded_for=header), TRUSTED) == expected


def test_https_detection() -> None:
    assert is_https({**scope("1.2.3.4"), "scheme": "https"}, ())
    assert not is_https(scope("1.2.3.4", x_forwarded_proto="https"), ())
    assert not is_https(scope("1.2.3.4", x_forwarded_proto="https"), TRUSTED)
    assert is_https(scope("10.0.0.5", x_forwarded_proto="https"), TRUSTED)


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        (None, "unknown"),
        ("not-an-ip", "not-an-ip"),
    ],
)
def test_rate_limit_buckets(address: str | None, bucket: str) -> None:
    assert client_bucket(address) == bucket
