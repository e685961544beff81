"""Data encrypted at rest: AES-GCM under per-purpose keys derived from the data keys or pepper."""

from __future__ import annotations

import pytest

from app.core.crypto import DataCipher, DecryptionError, Purpose, cipher_from_keys

PEPPER = b"pepper-0123456789abcdef-0123456789abcdef"
KEY_A = b"data-key-a-0123456789abcdef-0123456789"
KEY_B = b"data-key-b-0123456789abcdef-0123456789"
SECRET = b"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_round_trip_and_the_plaintext_is_not_in_the_ciphertext() -> None:
    cipher = DataCipher([KEY_A])
    sealed = cipher.encrypt(Purpose.TOTP_SECRET, SECRET, context="user-1")
    assert SECRET.decode() not in sealed
    assert sealed.startswith("v1.")
    assert cipher.decrypt(Purpose.TOTP_SECRET, sealed, context="user-1") == SECRET


def test_each_encryption_uses_a_fresh_nonce() -> None:
    cipher = DataCipher([KEY_A])
    assert cipher.encrypt(Purpose.TOTP_SECRET, SECRET) != cipher.encrypt(
        Purpose.TOTP_SECRET, SECRET
    )


def test_another_purpose_or_context_cannot_open_it() -> None:
    cipher = DataCipher([KEY_A])
    sealed = cipher.encrypt(Purpose.TOTP_SECRET, SECRET, context="user-1")
    with pytest.raises(DecryptionError):
        cipher.decrypt(Purpose.SIGNING_KEY, sealed, context="user-1")
    with pytest.raises(DecryptionError):
        cipher.decrypt(Purpose.TOTP_SECRET, sealed, context="user-2")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-2] + ("AA" if not s.endswith("AA") else "BB"),  # tag
        lambda s: s.replace("v1.", "v2.", 1),
        lambda s: "v1.00000000." + s.split(".", 2)[2],  # unknown key id
        lambda s: s.rsplit(".", 1)[0] + ".***",
        lambda s: s.rsplit(".", 1)[0] + ".QUJD",  # shorter than a nonce
        lambda s: "",
        lambda s: "garbage",
    ],
)
def test_tampered_or_malformed_ciphertext_is_refused(mangle: object) -> None:
    cipher = DataCipher([KEY_A])
    sealed = cipher.encrypt(Purpose.TOTP_SECRET, SECRET)
    with pytest.raises(DecryptionError):
        cipher.decrypt(Purpose.TOTP_SECRET, mangle(sealed))  # type: ignore[operator]


def test_a_rotated_key_list_reads_old_data_and_writes_with_the_new_key() -> None:
    old = DataCipher([KEY_A])
    sealed = old.encrypt(Purpose.WEBHOOK_SECRET, SECRET)
    rotated = DataCipher([KEY_B, KEY_A])
    assert rotated.decrypt(Purpose.WEBHOOK_SECRET, sealed) == SECRET
    assert not rotated.is_current(Purpose.WEBHOOK_SECRET, sealed)
    fresh = rotated.encrypt(Purpose.WEBHOOK_SECRET, SECRET)
    assert rotated.is_current(Purpose.WEBHOOK_SECRET, fresh)
    with pytest.raises(DecryptionError):  # the old list does not hold the new key
        old.decrypt(Purpose.WEBHOOK_SECRET, fresh)


def test_without_data_keys_the_pepper_derives_them() -> None:
    sealed = cipher_from_keys([], PEPPER).encrypt(Purpose.TOTP_SECRET, SECRET)
    assert cipher_from_keys([], PEPPER).decrypt(Purpose.TOTP_SECRET, sealed) == SECRET
    with pytest.raises(DecryptionError):
        cipher_from_keys([], b"another-pepper-0123456789abcdef-01234567").decrypt(
            Purpose.TOTP_SECRET, sealed
        )


def test_data_keys_encrypt_and_the_pepper_still_opens_older_data() -> None:
    before = cipher_from_keys([], PEPPER).encrypt(Purpose.TOTP_SECRET, SECRET)
    cipher = cipher_from_keys([KEY_A], PEPPER)
    assert cipher.decrypt(Purpose.TOTP_SECRET, before) == SECRET
    after = cipher.encrypt(Purpose.TOTP_SECRET, SECRET)
    assert DataCipher([KEY_A]).decrypt(Purpose.TOTP_SECRET, after) == SECRET
    with pytest.raises(DecryptionError):  # a dump plus the pepper alone does not open it
        DataCipher([PEPPER]).decrypt(Purpose.TOTP_SECRET, after)


def test_an_empty_key_list_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        DataCipher([])


def test_mac_is_stable_per_key_and_purpose() -> None:
    cipher = DataCipher([b"k" * 40])
    one = cipher.mac(Purpose.REFRESH_SUCCESSOR, b"token")
    assert one == cipher.mac(Purpose.REFRESH_SUCCESSOR, b"token") and len(one) == 32
    assert one != cipher.mac(Purpose.REFRESH_SUCCESSOR, b"token2")
    assert one != cipher.mac(Purpose.SIGNING_KEY, b"token")
    assert one != DataCipher([b"j" * 40]).mac(Purpose.REFRESH_SUCCESSOR, b"token")
