from __future__ import annotations

from pydantic import BaseModel, Field

from app.schemas.common import InputModel, OpaqueToken


class ProviderOut(BaseModel):
    name: str = Field(examples=["github"])
    authorize_url: str = Field(
        description="This service's URL that starts the login",
        examples=["https://api.example.com/api/v1/oauth/github/initiate"],
    )


class ExchangeIn(InputModel):
    code: OpaqueToken
