"""Access tokens: claims, pinned algorithm, header type, lifetime by the injected clock."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import jwt
import pytest

from app.core.jwt import AccessTokenCodec, InvalidAccessToken
from tests.support.clock import FakeClock

KEY = b"k" * 64
ISSUER = "http://testserver"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def codec(clock: FakeClock) -> AccessTokenCodec:
    return AccessTokenCodec(
        key=KEY, algorithm="HS256", issuer=ISSUER, ttl=timedelta(minutes=30), clock=clock
    )


def _encode(codec: AccessTokenCodec) -> str:
    return codec.encode(user_id=uuid.uuid4(), session_id=uuid.uuid4(), role="user", amr=["pwd"])


def _claims(codec: AccessTokenCodec) -> dict[str, object]:
    token = _encode(codec)
    return jwt.decode(token, options={"verify_signature": False})


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_round_trip_has_every_claim(codec: AccessTokenCodec) -> None:
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    token = codec.encode(user_id=user_id, session_id=session_id, role="user", amr=["pwd"])
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "typ": "at+jwt"}
    payload = jwt.decode(token, options={"verify_signature": False})
    assert set(payload) == {"sub", "sid", "jti", "iat", "exp", "iss", "aud", "type", "role", "amr"}
    assert (payload["role"], payload["amr"]) == ("user", ["pwd"])
    assert payload["iss"] == payload["aud"] == ISSUER
    assert payload["type"] == "access"
    assert payload["exp"] - payload["iat"] == 1800
    claims = codec.decode(token)
    assert (claims.user_id, claims.session_id) == (user_id, session_id)


def test_each_token_has_a_fresh_jti(codec: AccessTokenCodec) -> None:
    assert _claims(codec)["jti"] != _claims(codec)["jti"]


def test_expired_by_the_clock(codec: AccessTokenCodec, clock: FakeClock) -> None:
    token = _encode(codec)
    clock.advance(minutes=29, seconds=59)
    codec.decode(token)
    clock.advance(seconds=1)
    with pytest.raises(InvalidAccessToken):
        codec.decode(token)


def test_issued_in_the_future_is_refused(codec: AccessTokenCodec, clock: FakeClock) -> None:
    clock.advance(minutes=5)
    token = _encode(codec)
    clock.advance(minutes=-5)
    with pytest.raises(InvalidAccessToken):
        codec.decode(token)


def test_bad_signature(codec: AccessTokenCodec) -> None:
    token = _encode(codec)
    head, body, sig = token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    with pytest.raises(InvalidAccessToken):
        codec.decode(f"{head}.{body}.{flipped}")


def test_payload_tampering_breaks_the_signature(codec: AccessTokenCodec) -> None:
    token = _encode(codec)
    head, _, sig = token.split(".")
    payload = _claims(codec)
    payload["sub"] = str(uuid.uuid4())
    with pytest.raises(InvalidAccessToken):
        codec.decode(f"{head}.{_b64(payload)}.{sig}")


def test_alg_none_is_refused(codec: AccessTokenCodec) -> None:
    payload = _claims(codec)
    unsigned = f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{_b64(payload)}."
    with pytest.raises(InvalidAccessToken):
        codec.decode(unsigned)


def test_other_hmac_algorithm_is_refused(codec: AccessTokenCodec) -> None:
    payload = _claims(codec)
    token = jwt.encode(payload, KEY, algorithm="HS512", headers={"typ": "at+jwt"})
    with pytest.raises(InvalidAccessToken):
        codec.decode(token)


@pytest.mark.parametrize(
    ("header", "change"),
    [
        ({"typ": "JWT"}, {}),
        ({}, {"type": "refresh"}),
        ({"typ": "at+jwt"}, {"iss": "http://evil"}),
        ({"typ": "at+jwt"}, {"aud": "http://evil"}),
        ({"typ": "at+jwt"}, {"sub": "not-a-uuid"}),
        ({"typ": "at+jwt"}, {"sid": 12}),
    ],
)
def test_wrong_type_issuer_audience_or_ids(
    codec: AccessTokenCodec, header: dict[str, str], change: dict[str, object]
) -> None:
    payload = {**_claims(codec), **change}
    token = jwt.encode(payload, KEY, algorithm="HS256", headers=header)
    with pytest.raises(InvalidAccessToken):
        codec.decode(token)


@pytest.mark.parametrize("missing", ["sub", "sid", "jti", "iat", "exp", "iss", "aud", "type"])
def test_every_claim_is_required(codec: AccessTokenCodec, missing: str) -> None:
    payload = _claims(codec)
    del payload[missing]
    token = jwt.encode(payload, KEY, algorithm="HS256", headers={"typ": "at+jwt"})
    with pytest.raises(InvalidAccessToken):
        codec.decode(token)


def test_key_locating_headers_are_ignored(codec: AccessTokenCodec) -> None:
    """A token signed with an attacker's key and pointing at it via jwk/jku/kid fails."""
    payload = _claims(codec)
    evil = b"e" * 48
    headers = {
        "typ": "at+jwt",
        "kid": "../../dev/null",
        "jku": "http://evil.example/jwks.json",
        "jwk": {"kty": "oct", "k": base64.urlsafe_b64encode(evil).decode()},
        "x5u": "http://evil.example/cert.pem",
    }
    token = jwt.encode(payload, evil, algorithm="HS256", headers=headers)
    with pytest.raises(InvalidAccessToken):
        codec.decode(token)
    # The same headers on a token signed with our key change nothing either way.
    ours = jwt.encode(payload, KEY, algorithm="HS256", headers=headers)
    assert codec.decode(ours).jti == payload["jti"]


@pytest.mark.parametrize("junk", ["", "abc", "a.b.c", "a.b", "....", "é.é.é"])
def test_garbage(codec: AccessTokenCodec, junk: str) -> None:
    with pytest.raises(InvalidAccessToken):
        codec.decode(junk)


def test_verified_tokens_are_remembered_within_a_bound(
    codec: AccessTokenCodec, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core import jwt as module

    monkeypatch.setattr(module, "VERIFIED_CACHE_SIZE", 3)
    tokens = [_encode(codec) for _ in range(5)]
    for token in tokens:
        codec.decode(token)
    assert len(codec._verified) == 3 and tokens[-1] in codec._verified
    assert tokens[0] not in codec._verified  # the oldest went first
    # A remembered token still has its signature's worth: a one-character change is new text.
    head, body, sig = tokens[-1].split(".")
    with pytest.raises(InvalidAccessToken):
        codec.decode(f"{head}.{body}.{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}")
