"""Registering a passkey (SPEC §7.2): the creation options and every check of the response."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from sqlmodel import select

from app.cache.memory import MemoryStore
from app.models import AuditLog, Passkey
from tests.conftest import Harness, HarnessFactory
from tests.support import passkeys
from tests.support.authenticator import AT, BS, UP, UV, Authenticator, b64url
from tests.support.flows import bearer

INVALID_PASSKEY = {"detail": "The passkey could not be verified", "code": "invalid_passkey"}
ICLOUD = uuid.UUID("fbfc3007-154e-4ecc-8c0b-6e020557d7bd").bytes


async def signed_in(harness: Harness) -> tuple[str, str]:
    """A verified user's (email, access token)."""
    email = await harness.user()
    return email, (await harness.login(email))["access_token"]


async def user_id(harness: Harness, access: str) -> str:
    response = await harness.client.get("/api/v1/users/profile", headers=bearer(access))
    return str(response.json()["id"])


async def verify(harness: Harness, access: str, credential: Any) -> Any:
    return await harness.client.post(
        f"{passkeys.USERS}/register/verify", json={"credential": credential}, headers=bearer(access)
    )


async def audit_rows(harness: Harness, event: str) -> list[AuditLog]:
    async with harness.ctx.sessionmaker() as db:
        rows = await db.exec(select(AuditLog).where(AuditLog.event == event))
        return list(rows.all())


# Options -------------------------------------------------------------------------------


async def test_creation_options_are_webauthn_level_3_json(harness: Harness) -> None:
    email, access = await signed_in(harness)
    options = await passkeys.registration_options(harness.client, access)
    assert options["rp"] == {"id": "frontend.test", "name": "Auth backend"}
    assert options["pubKeyCredParams"] == [
        {"type": "public-key", "alg": -7},
        {"type": "public-key", "alg": -8},
        {"type": "public-key", "alg": -257},
    ]
    assert options["authenticatorSelection"] == {
        "residentKey": "required",
        "requireResidentKey": True,
        "userVerification": "required",
    }
    assert options["attestation"] == "none"
    assert options["timeout"] == 300000
    assert options["excludeCredentials"] == []
    assert len(base64.urlsafe_b64decode(options["challenge"] + "=")) == 32
    assert options["user"]["name"] == email
    assert options["user"]["displayName"] == email  # no full name given


async def test_the_user_handle_is_opaque_stored_and_stable(harness: Harness) -> None:
    email, access = await signed_in(harness)
    first = await passkeys.registration_options(harness.client, access)
    second = await passkeys.registration_options(harness.client, access)
    handle = first["user"]["id"]
    assert second["user"]["id"] == handle
    assert first["challenge"] != second["challenge"]
    raw = base64.urlsafe_b64decode(handle + "=" * (-len(handle) % 4))
    assert len(raw) == 32
    assert email.encode() not in raw and uuid.UUID(await user_id(harness, access)).bytes != raw
    _, other = await signed_in(harness)
    assert (await passkeys.registration_options(harness.client, other))["user"]["id"] != handle


async def test_exclude_credentials_lists_the_users_passkeys(harness: Harness) -> None:
    _, access = await signed_in(harness)
    one, two = Authenticator(), Authenticator()
    await passkeys.added(harness.client, access, one)
    harness.clock.advance(seconds=1)
    await passkeys.added(harness.client, access, two)
    options = await passkeys.registration_options(harness.client, access)
    assert options["excludeCredentials"] == [
        {"id": one.id, "type": "public-key", "transports": ["internal", "hybrid"]},
        {"id": two.id, "type": "public-key", "transports": ["internal", "hybrid"]},
    ]


async def test_options_need_a_signed_in_user(harness: Harness) -> None:
    response = await harness.client.post(f"{passkeys.USERS}/register/options")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# Success -------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "RS256"])
async def test_a_passkey_registers_with_each_algorithm(harness: Harness, algorithm: Any) -> None:
    _, access = await signed_in(harness)
    response = await passkeys.register(harness.client, access, Authenticator(algorithm=algorithm))
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "name", "created_at", "last_used_at", "backed_up", "transports"}
    assert body["name"] == "Passkey"
    assert body["last_used_at"] is None
    assert body["backed_up"] is False
    assert body["transports"] == ["internal", "hybrid"]


async def test_registration_is_audited_and_stores_only_public_material(harness: Harness) -> None:
    _, access = await signed_in(harness)
    authenticator = Authenticator()
    body = await passkeys.added(harness.client, access, authenticator)
    (row,) = await audit_rows(harness, "passkey_added")
    assert str(row.user_id) == await user_id(harness, access)
    assert row.details == {
        "passkey_id": body["id"],
        "name": "Passkey",
        "aaguid": str(uuid.UUID(int=0)),
    }
    async with harness.ctx.sessionmaker() as db:
        stored = await db.get(Passkey, uuid.UUID(body["id"]))
    assert stored is not None
    assert stored.credential_id == authenticator.id
    assert stored.public_key == authenticator.key.cose()


async def test_the_default_name_comes_from_a_known_aaguid(harness: Harness) -> None:
    _, access = await signed_in(harness)
    synced = Authenticator(aaguid=ICLOUD, backup_eligible=True, backed_up=True)
    body = await passkeys.added(harness.client, access, synced)
    assert body["name"] == "iCloud Keychain"
    assert body["backed_up"] is True


async def test_a_given_name_wins_and_is_trimmed(harness: Harness) -> None:
    _, access = await signed_in(harness)
    response = await passkeys.register(
        harness.client, access, Authenticator(aaguid=ICLOUD), name="  Work laptop "
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Work laptop"


async def test_unknown_transports_are_dropped(harness: Harness) -> None:
    _, access = await signed_in(harness)
    response = await passkeys.register(
        harness.client, access, Authenticator(), transports=["usb", "carrier-pigeon", "usb"]
    )
    assert response.status_code == 201, response.text
    assert response.json()["transports"] == ["usb"]


# Every check ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tweaks",
    [
        pytest.param({"origin": "http://evil.test"}, id="origin"),
        pytest.param({"origin": "https://frontend.test"}, id="origin-scheme"),
        pytest.param({"type": "webauthn.get"}, id="type"),
        pytest.param({"rp_id": "evil.test"}, id="rp-id-hash"),
        pytest.param({"flags": UV | AT}, id="no-user-presence"),
        pytest.param({"flags": UP | AT}, id="no-user-verification"),
        pytest.param({"flags": UP | UV | BS}, id="backed-up-but-not-eligible"),
        pytest.param({"challenge": b64url(b"\x01" * 32)}, id="unknown-challenge"),
        pytest.param({"challenge": "not base64url!"}, id="challenge-not-base64url"),
        pytest.param({"fmt": "none", "att_stmt": {"sig": b"x"}}, id="none-with-statement"),
        pytest.param({"fmt": "packed", "att_stmt": {"alg": -7, "sig": b"x"}}, id="packed-bad-sig"),
        pytest.param({"fmt": "made-up"}, id="unknown-format"),
    ],
)
async def test_a_response_failing_a_check_is_refused(
    harness: Harness, tweaks: dict[str, Any]
) -> None:
    _, access = await signed_in(harness)
    response = await passkeys.register(harness.client, access, Authenticator(), **tweaks)
    assert response.status_code == 400, response.text
    assert response.json() == INVALID_PASSKEY
    assert await audit_rows(harness, "passkey_added") == []
    # The refused authenticator is not registered: it can register properly afterwards.
    assert (await harness.client.get(passkeys.USERS, headers=bearer(access))).json() == []


async def test_every_listed_origin_is_accepted(make_harness: HarnessFactory) -> None:
    harness = await make_harness(
        WEBAUTHN_ORIGINS="https://app.example.com,https://admin.example.com",
        WEBAUTHN_RP_ID="example.com",
    )
    _, access = await signed_in(harness)
    for origin in ("https://app.example.com", "https://admin.example.com"):
        response = await passkeys.register(harness.client, access, Authenticator(origin=origin))
        assert response.status_code == 201, response.text
    response = await passkeys.register(
        harness.client, access, Authenticator(origin="http://frontend.test")
    )
    assert response.status_code == 400


async def test_a_challenge_is_single_use(harness: Harness) -> None:
    _, access = await signed_in(harness)
    options = await passkeys.registration_options(harness.client, access)
    first = await verify(harness, access, Authenticator().register(options))
    assert first.status_code == 201
    replay = await verify(harness, access, Authenticator().register(options))
    assert replay.status_code == 400
    assert replay.json() == INVALID_PASSKEY


async def test_a_challenge_is_bound_to_its_user(harness: Harness) -> None:
    _, alice = await signed_in(harness)
    _, mallory = await signed_in(harness)
    options = await passkeys.registration_options(harness.client, alice)
    response = await verify(harness, mallory, Authenticator().register(options))
    assert response.status_code == 400
    # ...and it was spent: Alice cannot use it either.
    assert (await verify(harness, alice, Authenticator().register(options))).status_code == 400


async def test_a_sign_in_challenge_does_not_register(harness: Harness) -> None:
    _, access = await signed_in(harness)
    options = await passkeys.registration_options(harness.client, access)
    sign_in_challenge = (await passkeys.login_options(harness.client))["challenge"]
    credential = Authenticator().register(options, challenge=sign_in_challenge)
    assert (await verify(harness, access, credential)).status_code == 400


async def test_a_challenge_dies_after_five_minutes(make_harness: HarnessFactory) -> None:
    now = [0.0]
    harness = await make_harness(app_kwargs={"store": MemoryStore(timer=lambda: now[0])})
    _, access = await signed_in(harness)
    options = await passkeys.registration_options(harness.client, access)
    now[0] += 299
    assert (await verify(harness, access, Authenticator().register(options))).status_code == 201
    options = await passkeys.registration_options(harness.client, access)
    now[0] += 301
    assert (await verify(harness, access, Authenticator().register(options))).status_code == 400


async def test_a_credential_id_registers_once_across_accounts(harness: Harness) -> None:
    _, alice = await signed_in(harness)
    _, bob = await signed_in(harness)
    authenticator = Authenticator()
    await passkeys.added(harness.client, alice, authenticator)
    for access in (alice, bob):
        response = await passkeys.register(harness.client, access, authenticator)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_passkey"


async def test_raw_id_must_name_the_attested_credential(harness: Harness) -> None:
    _, access = await signed_in(harness)
    options = await passkeys.registration_options(harness.client, access)
    credential = Authenticator().register(options)
    other = b64url(b"\x02" * 32)
    credential["id"] = credential["rawId"] = other
    assert (await verify(harness, access, credential)).status_code == 400


def _garbage(credential: dict[str, Any]) -> list[Any]:
    """Malformed versions of a registration response."""
    response = credential["response"]
    return [
        "not an object",
        [],
        {},
        {**credential, "rawId": "***"},
        {**credential, "id": "a b"},
        {**credential, "type": "password"},
        {**credential, "response": "nope"},
        {**credential, "response": {**response, "clientDataJSON": "%%%"}},
        {**credential, "response": {**response, "clientDataJSON": b64url(b"\xff\xfe")}},
        {**credential, "response": {**response, "clientDataJSON": b64url(b"[" * 3000)}},
        {**credential, "response": {**response, "clientDataJSON": b64url(b'{"challenge": 5}')}},
        {**credential, "response": {**response, "attestationObject": "A"}},
        {**credential, "response": {**response, "attestationObject": b64url(b"\xa1\x00")}},
        {**credential, "response": {**response, "attestationObject": None}},
        {**credential, "response": {**response, "transports": "usb"}},
        None,
    ]


async def test_malformed_credentials_are_invalid_passkeys_never_500(harness: Harness) -> None:
    _, access = await signed_in(harness)
    # A body without a credential is one more malformed credential.
    missing = await harness.client.post(
        f"{passkeys.USERS}/register/verify", json={}, headers=bearer(access)
    )
    assert missing.status_code == 400
    for garbage in _garbage(
        Authenticator().register(await passkeys.registration_options(harness.client, access))
    ):
        response = await verify(harness, access, garbage)
        assert response.status_code == 400, (garbage, response.text)
        assert response.json() == INVALID_PASSKEY


async def test_other_body_errors_keep_fastapis_422(harness: Harness) -> None:
    _, access = await signed_in(harness)
    options = await passkeys.registration_options(harness.client, access)
    credential = Authenticator().register(options)
    for body in ({"credential": credential, "name": " "}, {"credential": credential, "x": 1}):
        response = await harness.client.post(
            f"{passkeys.USERS}/register/verify", json=body, headers=bearer(access)
        )
        assert response.status_code == 422, body


async def test_registration_is_shared_across_workers(make_harness: HarnessFactory) -> None:
    """Options from one worker, the response to another: the challenge lives in the
    shared store (Redis when configured)."""
    store = None if harness_uses_redis() else MemoryStore()
    kwargs: dict[str, Any] = {"REDIS_KEY_PREFIX": f"test-passkeys-{uuid.uuid4().hex[:8]}"}
    if store is not None:
        kwargs["app_kwargs"] = {"store": store}
    first = await make_harness(**kwargs)
    second = await make_harness(**kwargs)
    _, access = await signed_in(first)
    options = await passkeys.registration_options(first.client, access)
    response = await verify(second, access, Authenticator().register(options))
    assert response.status_code == 201, response.text


def harness_uses_redis() -> bool:
    import os

    return bool(os.environ.get("TEST_REDIS_URL"))


async def test_openapi_names_every_passkey_body(harness: Harness) -> None:
    """Generated clients get types: options and credentials are named schemas."""
    spec = (await harness.client.get("/openapi.json")).json()
    paths = spec["paths"]

    def ok_ref(path: str, method: str) -> str:
        responses = paths[path][method]["responses"]
        (status,) = [s for s in responses if s.startswith("2")]
        schema = responses[status]["content"]["application/json"]["schema"]
        return str(schema.get("$ref") or schema["items"]["$ref"]).rsplit("/", 1)[1]

    def body_ref(path: str) -> str:
        schema = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        return str(schema["$ref"]).rsplit("/", 1)[1]

    users, login = "/api/v1/users/passkeys", "/api/v1/auth/passkeys/login"
    assert ok_ref(f"{users}/register/options", "post") == "PublicKeyCredentialCreationOptionsJSON"
    assert ok_ref(f"{users}/register/verify", "post") == "PasskeyOut"
    assert ok_ref(users, "get") == "PasskeyOut"
    assert ok_ref(f"{users}/{{passkey_id}}", "patch") == "PasskeyOut"
    assert ok_ref(f"{login}/options", "post") == "PublicKeyCredentialRequestOptionsJSON"
    assert ok_ref(f"{login}/verify", "post") == "TokenPair"
    assert body_ref(f"{users}/register/verify") == "PasskeyRegisterIn"
    assert body_ref(f"{login}/verify") == "PasskeyLoginIn"
    schemas = spec["components"]["schemas"]
    credential = schemas["PasskeyRegisterIn"]["properties"]["credential"]
    assert credential["$ref"].endswith("/RegistrationResponseJSON")
    response = schemas["RegistrationResponseJSON"]["properties"]["response"]
    assert response["$ref"].endswith("/AuthenticatorAttestationResponseJSON")
    assert schemas["PasskeyLoginIn"]["properties"]["credential"]["$ref"].endswith(
        "/AuthenticationResponseJSON"
    )
    assert set(schemas["PasskeyOut"]["required"]) == {
        "id",
        "name",
        "created_at",
        "last_used_at",
        "backed_up",
        "transports",
    }
    errors = paths[f"{users}/register/verify"]["post"]["responses"]["400"]
    assert errors["content"]["application/json"]["example"]["code"] == "invalid_passkey"
    delete = paths[f"{users}/{{passkey_id}}"]["delete"]["responses"]["409"]
    assert delete["content"]["application/json"]["example"]["code"] == "last_credential"
    assert {op["operationId"] for item in paths.values() for op in item.values()} >= {
        "passkeys-register_options",
        "passkeys-register_verify",
        "passkeys-list_passkeys",
        "passkeys-rename_passkey",
        "passkeys-delete_passkey",
        "passkeys-login_options",
        "passkeys-login_verify",
    }
