"""The public key set (RFC 7517) that other services verify access tokens with."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class JwkOut(BaseModel):
    """One public key: its type, id, algorithm and public parameters only."""

    kty: Literal["EC", "OKP", "RSA"]
    kid: str
    alg: Literal["ES256", "EdDSA", "RS256"]
    use: Literal["sig"]
    crv: str | None = Field(default=None, description="EC and OKP keys: the curve")
    x: str | None = Field(default=None, description="EC and OKP keys")
    y: str | None = Field(default=None, description="EC keys")
    n: str | None = Field(default=None, description="RSA keys: the modulus")
    e: str | None = Field(default=None, description="RSA keys: the public exponent")


class JwksOut(BaseModel):
    keys: list[JwkOut] = Field(description="Empty when the service signs with an HMAC algorithm")
