"""Query parameters shared by several routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

PageNumber = Annotated[int, Query(ge=1, description="Page number, from 1")]
PageSize = Annotated[int, Query(ge=1, le=100, description="Items per page (1-100)")]
