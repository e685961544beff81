"""Pure helpers of the passkey ceremonies: base64url, the challenge in client data, names."""

from __future__ import annotations

import json

import pytest

from app.services.passkeys.aaguids import default_name
from app.services.passkeys.ceremony import _challenge_in, b64url, canonical_b64url, from_b64url


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff\xfe", b"abc", bytes(range(64))])
def test_base64url_round_trips_unpadded(data: bytes) -> None:
    encoded = b64url(data)
    assert "=" not in encoded and "+" not in encoded and "/" not in encoded
    assert from_b64url(encoded) == data


@pytest.mark.parametrize("value", ["a+b/", "ab cd", "abc===", "A", "é", "ab\ncd"])
def test_base64url_is_strict(value: str) -> None:
    with pytest.raises(ValueError):
        from_b64url(value)


def test_padding_is_accepted_and_spelled_away() -> None:
    assert from_b64url("YQ==") == b"a"
    assert canonical_b64url("YQ==") == "YQ"
    assert canonical_b64url("Y Q") is None


def _client_data(value: object) -> str:
    return b64url(json.dumps(value).encode())


def test_the_challenge_is_read_from_client_data() -> None:
    challenge = bytes(range(32))
    assert _challenge_in(_client_data({"challenge": b64url(challenge)})) == challenge


@pytest.mark.parametrize(
    "client_data",
    [
        _client_data({"challenge": b64url(b"short")}),
        _client_data({"challenge": 5}),
        _client_data({"nochallenge": "x"}),
        _client_data(["challenge"]),
        _client_data({"challenge": "not base64!"}),
        b64url(b"\xff\xfe"),
        b64url(b"[" * 5000),
        "%%%",
    ],
)
def test_anything_else_has_no_challenge(client_data: str) -> None:
    assert _challenge_in(client_data) is None


def test_default_names() -> None:
    assert default_name("FBFC3007-154E-4ECC-8C0B-6E020557D7BD") == "iCloud Keychain"
    assert default_name("00000000-0000-0000-0000-000000000000") == "Passkey"
