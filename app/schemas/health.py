from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class HealthOut(BaseModel):
    status: Literal["ok", "degraded", "down"]
    version: str


class ReadyOut(BaseModel):
    status: Literal["ok", "down"]
    database: Literal["ok", "down"]
