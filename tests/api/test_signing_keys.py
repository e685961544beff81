"""Asymmetric access tokens (SPEC §7.3): the key set, JWKS, rotation, pinned verification."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import select

from app.core import keyring as core_keyring
from app.core.crypto import DecryptionError, Purpose
from app.main import create_app
from app.models import SigningKey
from app.services.signing import keyset
from app.services.signing.loader import KeyLoader
from tests.conftest import Harness, HarnessFactory, base_settings
from tests.support.flows import API, bearer
from tests.support.mail import Mailbox

ALGORITHMS = ["ES256", "EdDSA", "RS256"]
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


async def _profile(harness: Harness, token: str) -> int:
    response = await harness.client.get(f"{API}/users/profile", headers=bearer(token))
    return response.status_code


async def _jwks(harness: Harness) -> dict[str, Any]:
    response = await harness.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.headers["x-content-type-options"] == "nosniff"
    return dict(response.json())


async def test_the_jwks_headers_are_the_same_on_every_answer(harness: Harness) -> None:
    """Served from headers rendered once: no layer's headers pile up across requests."""
    answers = [await harness.client.get("/.well-known/jwks.json") for _ in range(3)]
    names = [sorted(k for k, _ in answer.headers.multi_items()) for answer in answers]
    assert names[0] == names[1] == names[2]
    assert names[0].count("cache-control") == 1 and names[0].count("content-type") == 1
    await _jwks(harness)


async def _rows(harness: Harness) -> list[SigningKey]:
    async with harness.ctx.sessionmaker() as db:
        return list((await db.exec(select(SigningKey))).all())


async def _rotate(harness: Harness) -> str:
    settings = harness.settings
    async with harness.ctx.sessionmaker() as db:
        return await keyset.rotate(
            db,
            harness.ctx.cipher,
            algorithm=settings.ALGORITHM,
            now=harness.clock.now(),
            access_ttl=settings.access_token_ttl,
        )


def _header(token: str) -> dict[str, Any]:
    return dict(jwt.get_unverified_header(token))


def _forge(header: dict[str, Any], payload: dict[str, Any], key: Any, alg: str) -> str:
    return jwt.encode(payload, key, algorithm=alg, headers=header)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_tokens_carry_a_published_kid_and_verify_with_the_jwks(
    make_harness: HarnessFactory, algorithm: str
) -> None:
    harness = await make_harness(ALGORITHM=algorithm)
    email = await harness.user()
    pair = await harness.login(email)
    header = _header(pair["access_token"])
    assert header["alg"] == algorithm and header["typ"] == "at+jwt"
    keys = (await _jwks(harness))["keys"]
    assert len(keys) == 2  # current and next
    assert all(PRIVATE_MEMBERS.isdisjoint(k) for k in keys)
    assert {k["use"] for k in keys} == {"sig"} and {k["alg"] for k in keys} == {algorithm}
    jwk = next(k for k in keys if k["kid"] == header["kid"])
    claims = jwt.decode(
        pair["access_token"],
        jwt.PyJWK(jwk).key,
        algorithms=[algorithm],
        audience="http://testserver",
        issuer="http://testserver",
    )
    assert claims["role"] == "user" and claims["amr"] == ["pwd"]
    assert await _profile(harness, pair["access_token"]) == 200
    # Refresh signs with the key set too.
    refreshed = await harness.client.post(
        f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert _header(refreshed.json()["access_token"])["kid"] == header["kid"]


async def test_hmac_default_publishes_no_keys(harness: Harness) -> None:
    assert await _jwks(harness) == {"keys": []}
    pair = await harness.login(await harness.user())
    assert _header(pair["access_token"]) == {"alg": "HS256", "typ": "at+jwt"}
    assert await _rows(harness) == []


async def test_private_keys_are_encrypted_at_rest(make_harness: HarnessFactory) -> None:
    harness = await make_harness(ALGORITHM="ES256")
    for row in await _rows(harness):
        assert row.private_key.startswith("v1.")
        assert "PRIVATE KEY" not in row.private_key
        # Bound to its kid: copied to another row it does not open.
        with pytest.raises(DecryptionError, match="context"):
            harness.ctx.cipher.decrypt(Purpose.SIGNING_KEY, row.private_key, context=row.kid + "x")


async def test_rotation_keeps_old_tokens_until_expiry_then_the_key_leaves(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(ALGORITHM="ES256", ACCESS_TOKEN_EXPIRE_MINUTES=5)
    pair = await harness.login(await harness.user())
    old_kid = _header(pair["access_token"])["kid"]
    before = {k["kid"] for k in (await _jwks(harness))["keys"]}
    next_kid = (before - {old_kid}).pop()

    assert await _rotate(harness) == next_kid
    loader = KeyLoader(harness.ctx)
    assert await loader.refresh()
    states = {r.kid: keyset.state_of(r) for r in await _rows(harness)}
    assert states[old_kid] == "previous" and states[next_kid] == "current"
    assert list(states.values()).count("next") == 1
    # New tokens are signed by the promoted key; the old token still works.
    fresh = await harness.login(await harness.user())
    assert _header(fresh["access_token"])["kid"] == next_kid
    assert await _profile(harness, pair["access_token"]) == 200
    assert old_kid in {k["kid"] for k in (await _jwks(harness))["keys"]}

    # Past the access-token lifetime + 1 minute the previous key is withdrawn.
    harness.clock.advance(minutes=6, seconds=1)
    assert await loader.refresh()
    kids = {k["kid"] for k in (await _jwks(harness))["keys"]}
    assert old_kid not in kids and next_kid in kids and len(kids) == 2
    # A token it signed, even a fresh one, is refused from now on.
    old_row = next(r for r in await _rows(harness) if r.kid == old_kid)
    old_key = core_keyring.load_private_pem(
        harness.ctx.cipher.decrypt(Purpose.SIGNING_KEY, old_row.private_key, context=old_kid)
    )
    payload = jwt.decode(fresh["access_token"], options={"verify_signature": False})
    now = int(harness.clock.now().timestamp())
    late = _forge(
        {"typ": "at+jwt", "kid": old_kid},
        {**payload, "iat": now, "exp": now + 60},
        old_key,
        "ES256",
    )
    assert await _profile(harness, late) == 401
    renewed = _forge(
        {"typ": "at+jwt", "kid": next_kid},
        {**payload, "iat": now, "exp": now + 60},
        core_keyring.load_private_pem(
            harness.ctx.cipher.decrypt(
                Purpose.SIGNING_KEY,
                next(r for r in await _rows(harness) if r.kid == next_kid).private_key,
                context=next_kid,
            )
        ),
        "ES256",
    )
    assert await _profile(harness, renewed) == 200  # the same claims under a published key


async def test_a_running_worker_notices_a_rotation_without_restart(
    make_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.services.signing import loader as loader_module

    monkeypatch.setattr(loader_module, "POLL_SECONDS", 0.05)
    worker = await make_harness(ALGORITHM="EdDSA")
    other = await make_harness(ALGORITHM="EdDSA", clock=worker.clock)
    first = worker.ctx.keyring.snapshot.signing_kid
    assert other.ctx.keyring.snapshot.signing_kid == first  # one shared set
    new_kid = await _rotate(other)
    for _ in range(100):
        if worker.ctx.keyring.snapshot.signing_kid == new_kid:
            break
        await asyncio.sleep(0.05)
    assert worker.ctx.keyring.snapshot.signing_kid == new_kid


async def test_workers_starting_together_create_one_key_set(
    make_harness: HarnessFactory,
) -> None:
    harnesses = await asyncio.gather(*(make_harness(ALGORITHM="ES256") for _ in range(3)))
    rows = await _rows(harnesses[0])
    assert sorted(keyset.state_of(r) for r in rows) == ["current", "next"]
    assert {h.ctx.keyring.snapshot.signing_kid for h in harnesses} == {
        next(r.kid for r in rows if keyset.state_of(r) == "current")
    }


async def test_switching_algorithm_retires_keys_of_the_old_one(
    make_harness: HarnessFactory,
) -> None:
    first = await make_harness(ALGORITHM="ES256")
    second = await make_harness(ALGORITHM="EdDSA", clock=first.clock)
    jwks = await _jwks(second)
    assert {k["alg"] for k in jwks["keys"]} == {"EdDSA"}
    states = sorted((r.algorithm, keyset.state_of(r)) for r in await _rows(second))
    assert states == [("ES256", "previous"), ("EdDSA", "current"), ("EdDSA", "next")]


# Pinned verification --------------------------------------------------------------


async def _signed_in(
    make_harness: HarnessFactory,
) -> tuple[Harness, dict[str, Any], dict[str, Any]]:
    harness = await make_harness(ALGORITHM="ES256")
    pair = await harness.login(await harness.user())
    payload = jwt.decode(pair["access_token"], options={"verify_signature": False})
    return harness, pair, payload


async def test_unknown_kid_is_refused(make_harness: HarnessFactory) -> None:
    harness, _, payload = await _signed_in(make_harness)
    attacker = ec.generate_private_key(ec.SECP256R1())
    token = _forge({"typ": "at+jwt", "kid": "not-published"}, payload, attacker, "ES256")
    assert await _profile(harness, token) == 401
    no_kid = _forge({"typ": "at+jwt"}, payload, attacker, "ES256")
    assert await _profile(harness, no_kid) == 401


async def test_embedded_jwk_jku_and_x5u_are_never_followed(make_harness: HarnessFactory) -> None:
    harness, pair, payload = await _signed_in(make_harness)
    kid = _header(pair["access_token"])["kid"]
    attacker = ec.generate_private_key(ec.SECP256R1())
    attacker_jwk = core_keyring.public_jwk(attacker, kid=kid, algorithm="ES256")
    for extra in (
        {"jwk": attacker_jwk},
        {"jku": "http://127.0.0.1:9/jwks.json"},
        {"x5u": "http://127.0.0.1:9/cert.pem"},
    ):
        token = _forge({"typ": "at+jwt", "kid": kid, **extra}, payload, attacker, "ES256")
        assert await _profile(harness, token) == 401, extra


async def test_another_algorithm_is_refused_even_with_a_published_kid(
    make_harness: HarnessFactory,
) -> None:
    harness, pair, payload = await _signed_in(make_harness)
    kid = _header(pair["access_token"])["kid"]
    from cryptography.hazmat.primitives.asymmetric import ed25519

    token = _forge(
        {"typ": "at+jwt", "kid": kid}, payload, ed25519.Ed25519PrivateKey.generate(), "EdDSA"
    )
    assert await _profile(harness, token) == 401
    unsigned = (
        base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "at+jwt", "kid": kid}).encode())
        .rstrip(b"=")
        .decode()
        + "."
        + base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
        + "."
    )
    assert await _profile(harness, unsigned) == 401


async def test_hmac_keyed_with_the_public_key_is_refused(make_harness: HarnessFactory) -> None:
    """Algorithm confusion: an HS256 token whose secret is our published public key."""
    harness, pair, payload = await _signed_in(make_harness)
    kid = _header(pair["access_token"])["kid"]
    public = harness.ctx.keyring.snapshot.verifying[kid]
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    jwk_text = json.dumps(next(k for k in (await _jwks(harness))["keys"] if k["kid"] == kid))
    header = {"alg": "HS256", "typ": "at+jwt", "kid": kid}
    segments = [
        base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=")
        for part in (header, payload)
    ]
    signing_input = b".".join(segments)
    import hashlib
    import hmac

    for secret in (pem, jwk_text.encode()):
        signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
        token = (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()
        assert await _profile(harness, token) == 401


async def test_a_hmac_token_is_refused_once_keys_sign(make_harness: HarnessFactory) -> None:
    harness, _, payload = await _signed_in(make_harness)
    from tests.conftest import TEST_SECRET_KEY

    token = _forge({"typ": "at+jwt"}, payload, TEST_SECRET_KEY, "HS256")
    assert await _profile(harness, token) == 401


async def test_a_start_with_another_encryption_key_names_the_setting(
    make_harness: HarnessFactory,
) -> None:
    """Keys stored under one pepper, a start under another: one line, not a traceback."""
    first = await make_harness(ALGORITHM="ES256")
    settings = base_settings(
        first.settings.database_url,
        ALGORITHM="ES256",
        PASSWORD_PEPPER="another-pepper-0123456789abcdef-0123456789abcdef",
    )
    app = create_app(settings, email_sender=Mailbox())
    with pytest.raises(RuntimeError) as excinfo:
        async with app.router.lifespan_context(app):
            pass
    message = str(excinfo.value)
    assert "\n" not in message and "cannot be decrypted" in message
    assert "DATA_ENCRYPTION_KEY" in message
