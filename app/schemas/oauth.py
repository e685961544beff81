from __future__ import annotations

from pydantic import BaseModel, Field

from app.schemas.common import InputModel, OpaqueToken


class ProviderOut(BaseModel):
    name: str = Field(examples=["github"])
    authorize_url: str = Field(
        description="Send the browser here (optionally with `?redirect_to=`) to sign in",
        examples=["https://api.example.com/api/v1/oauth/github/initiate"],
    )


class ExchangeIn(InputModel):
    code: OpaqueToken = Field(
        description="The one-time `code` the callback put in the frontend URL"
    )
