"""Pure parts of webhooks: target checks, signatures (against the Standard Webhooks
library), backoff, and what an audit row's details may carry out."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from app.core.outbound import UnsafeTarget, check_url, is_public, resolve
from app.services.webhooks.dispatcher import MAX_DELAY, backoff
from app.services.webhooks.outbox import public_details
from app.services.webhooks.signing import new_secret, sign


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),  # noqa: S104 (an address checked, not bound)
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:93.184.216.34", True),
    ],
)
def test_is_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "http://",
        "http://user@example.com/",
        "http://example.com:99999/",
        "http://exa mple.com/",
        "http://example.com\\@evil/",
        "https://" + "a" * 2050 + ".com/",
        "http://bücher.example/",
    ],
)
def test_check_url_refuses(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        check_url(url)


def test_check_url_accepts_http_and_https() -> None:
    assert check_url("https://Example.com/hooks?x=1") == ("https", "example.com", 443)
    assert check_url("http://example.com:8080") == ("http", "example.com", 8080)


async def test_resolve_checks_every_address_unless_private_is_allowed() -> None:
    with pytest.raises(UnsafeTarget):
        await resolve("http://localhost:9/", allow_private=False)
    address = await resolve("http://localhost:9/", allow_private=True)
    assert address.is_loopback
    with pytest.raises(UnsafeTarget):
        await resolve("http://no-such-host.invalid/", allow_private=True)


def test_signatures_verify_with_the_standard_webhooks_library() -> None:
    secret, other = new_secret(), new_secret()
    assert secret.startswith("whsec_") and secret != other
    now = datetime.now(UTC)
    timestamp = int(now.timestamp())
    body = '{"type":"register","data":{"x":"\\u00e9"}}'
    header = sign([secret, other], msg_id="msg_1", timestamp=timestamp, body=body)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(timestamp)}
    for key in (secret, other):
        assert Webhook(key).verify(body, {**headers, "webhook-signature": header})
    assert header.split(" ")[0] == Webhook(secret).sign("msg_1", now, body)
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(body, {**headers, "webhook-signature": header})


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    rng = random.Random(7)
    for attempts in range(1, 8):
        nominal = 5 * 2 ** (attempts - 1)
        for _ in range(50):
            delay = backoff(5, attempts, rng).total_seconds()
            assert nominal * 0.5 <= delay <= nominal * 1.5
    assert backoff(5, 40, rng) == MAX_DELAY
    spread = {backoff(5, 3, rng) for _ in range(20)}
    assert len(spread) > 10  # jittered, not one fixed schedule


def test_details_never_carry_secrets_or_client_data() -> None:
    details = {
        "session_id": "s",
        "method": "password",
        "ip": "203.0.113.7",
        "user_agent": "Firefox",
        "token_hash": "abc",
        "new_password": "x",
        "secret": "y",
        "provider": "github",
    }
    assert public_details(details) == {
        "session_id": "s",
        "method": "password",
        "provider": "github",
    }
