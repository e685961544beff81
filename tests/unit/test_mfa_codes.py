"""TOTP and recovery-code helpers (SPEC §7.1)."""

from __future__ import annotations

import pyotp

from app.services.mfa import (
    RECOVERY_ALPHABET,
    new_recovery_code,
    new_secret,
    normalise_recovery_code,
    otpauth_uri,
    qr_svg,
)


def test_secrets_are_20_random_bytes_in_base32_without_padding() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert len(secret) == 32 and "=" not in secret
        assert len(pyotp.TOTP(secret).byte_secret()) == 20


def test_the_uri_is_percent_encoded_and_complete() -> None:
    uri = otpauth_uri("Acme & Co/Auth", "ada+2fa@example.com", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    assert uri == (
        "otpauth://totp/Acme%20%26%20Co%2FAuth:ada%2B2fa%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        "&issuer=Acme%20%26%20Co%2FAuth&algorithm=SHA1&digits=6&period=30"
    )
    parsed = pyotp.parse_uri(uri)
    assert parsed.issuer == "Acme & Co/Auth" and parsed.name == "ada+2fa@example.com"


def test_the_qr_code_is_an_svg_document() -> None:
    svg = qr_svg("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg


def test_recovery_codes_have_no_look_alikes_and_read_any_way() -> None:
    assert not set("01ilo") & set(RECOVERY_ALPHABET)
    codes = {new_recovery_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        head, dash, tail = code.partition("-")
        assert dash and len(head) == len(tail) == 5
        assert set(head + tail) <= set(RECOVERY_ALPHABET)
        compact = head + tail
        assert normalise_recovery_code(code) == compact
        assert normalise_recovery_code(code.upper()) == compact
        assert normalise_recovery_code(f" {head} {tail} ") == compact
    for bad in ("", "abcde-fghj", "abcde-fghjk1", "abcde-fghjl", "ａｂｃｄｅ-ｆｇｈｊｋ"):
        assert normalise_recovery_code(bad) is None
