from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.schemas.common import Email, InputModel, NewPassword, OpaqueToken, Password, SafeStr


class RegisterIn(InputModel):
    email: Email
    password: NewPassword = Field(examples=["correct horse battery staple"])
    full_name: SafeStr | None = Field(default=None, max_length=200, examples=["Ada Lovelace"])


class LoginIn(InputModel):
    email: Email
    password: Password


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires")


class RefreshIn(InputModel):
    refresh_token: OpaqueToken


class LogoutIn(InputModel):
    refresh_token: OpaqueToken | None = None


class TokenIn(InputModel):
    token: OpaqueToken


class EmailIn(InputModel):
    email: Email


class PasswordResetCompleteIn(InputModel):
    token: OpaqueToken
    new_password: NewPassword


class AcceptedOut(BaseModel):
    detail: str


class MessageOut(BaseModel):
    detail: str
