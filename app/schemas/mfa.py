"""Bodies of the second factor (SPEC §7.1)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.schemas.common import InputModel, OpaqueToken

CODE_DESCRIPTION = (
    "A 6-digit code from the authenticator app, or an unused recovery code "
    "(`xxxxx-xxxxx`, any case, dash and spaces optional)"
)
# Anything longer is not a code of either kind; the service answers 400 for any
# string that is not one (malformed, wrong or used alike).
MfaCode = Field(max_length=64, description=CODE_DESCRIPTION, examples=["492039"])


class MfaStatusOut(BaseModel):
    totp_enabled: bool = Field(examples=[True])
    recovery_codes_left: int = Field(description="Unused recovery codes", examples=[10])


class TotpSetupOut(BaseModel):
    secret: str = Field(
        description="Base32 (no padding) of 20 random bytes, for manual entry",
        examples=["JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"],
    )
    otpauth_uri: str = Field(
        examples=[
            "otpauth://totp/Auth%20backend:ada%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
            "&issuer=Auth%20backend&algorithm=SHA1&digits=6&period=30"
        ]
    )
    qr_svg: str = Field(description="An SVG document: the QR code of `otpauth_uri`")


class MfaCodeIn(InputModel):
    code: str = MfaCode


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(
        description="Shown only this once; each works once",
        examples=[["k7m2p-x9qrt", "b4h8n-c3vzw"]],
    )


class MfaVerifyIn(InputModel):
    mfa_token: OpaqueToken = Field(description="From the 403 `mfa_required` answer")
    code: str = MfaCode
