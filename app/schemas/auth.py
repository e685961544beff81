from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, PrivateAttr

from app.schemas.common import (
    Email,
    InputModel,
    LanguageTag,
    NameStr,
    NewPassword,
    OpaqueToken,
    Password,
)

EMAIL_EXAMPLE = "ada@example.com"
PASSWORD_EXAMPLE = "correct horse battery staple"
# Shapes only: a real refresh token is 43 URL-safe characters.
REFRESH_EXAMPLE = "kD8yq3Vv1x7Qm2fN0bT6sJ4hL9wE5rP8aZc1uG3iY0o"
ACCESS_EXAMPLE = "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiIuLi4ifQ.c2lnbmF0dXJl"


class RegisterIn(InputModel):
    email: Email = Field(examples=[EMAIL_EXAMPLE])
    password: NewPassword = Field(examples=[PASSWORD_EXAMPLE])
    full_name: NameStr | None = Field(default=None, max_length=200, examples=["Ada Lovelace"])
    locale: LanguageTag | None = Field(
        default=None,
        description="Language of the account's emails; without it, the request's "
        "`Accept-Language` decides",
        examples=["de"],
    )


class LoginIn(InputModel):
    email: Email = Field(examples=[EMAIL_EXAMPLE])
    password: Password = Field(examples=[PASSWORD_EXAMPLE])


class TokenPair(BaseModel):
    access_token: str = Field(
        description="JWT for `Authorization: Bearer`", examples=[ACCESS_EXAMPLE]
    )
    refresh_token: str | None = Field(
        description="Opaque, single use: trade it at /auth/refresh. Null when the service "
        "sends it only in the HttpOnly cookie (`REFRESH_TOKEN_TRANSPORT=cookie`)",
        examples=[REFRESH_EXAMPLE],
    )
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires", examples=[1800])
    # The end of the session's absolute lifetime: the refresh cookie's Max-Age.
    _session_expires_at: datetime | None = PrivateAttr(default=None)

    @property
    def session_expires_at(self) -> datetime | None:
        return self._session_expires_at

    def for_session(self, expires_at: datetime) -> TokenPair:
        self._session_expires_at = expires_at
        return self


class RefreshIn(InputModel):
    refresh_token: OpaqueToken | None = Field(
        default=None,
        description="Omitted (or the body left out) when the service sends the token in "
        "its HttpOnly cookie",
        examples=[REFRESH_EXAMPLE],
    )


class LogoutIn(InputModel):
    refresh_token: OpaqueToken | None = Field(default=None, examples=[REFRESH_EXAMPLE])


class TokenIn(InputModel):
    token: OpaqueToken = Field(
        description="The `token` query parameter of the emailed link",
        examples=["Zx3vQ9mK2pL7nR1tY8wB4cE6fH0jS5uA2dG7kM9qW1e"],
    )


class EmailIn(InputModel):
    email: Email = Field(examples=[EMAIL_EXAMPLE])


class PasswordResetCompleteIn(InputModel):
    token: OpaqueToken = Field(
        description="The `token` query parameter of the emailed link",
        examples=["Qm7tR2yU9iO4pA1sD6fG3hJ8kL5zX0cV2bN7mQ4wE9r"],
    )
    new_password: NewPassword = Field(examples=["a new sturdy passphrase"])


class AcceptedOut(BaseModel):
    detail: str = Field(examples=["If the address belongs to an account, an email is on its way"])


class MessageOut(BaseModel):
    detail: str = Field(examples=["Email verified"])
