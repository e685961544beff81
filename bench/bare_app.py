"""The reference: a bare FastAPI app, started with the same uvicorn flags as the service.

- `GET /health` returns the same JSON as the service's /health.
- `GET /reference/profile` is the straightforward authenticated route: decode
  the JWT, then load the user from the database on every request. With an
  asymmetric ALGORITHM the key comes from the service's JWKS (REFERENCE_JWKS_URL)
  through PyJWT's PyJWKClient, as a downstream service would verify.
"""

from __future__ import annotations

import os
import uuid
from typing import Annotated, Any

import jwt
from fastapi import FastAPI, Header, HTTPException
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from app import __version__
from app.models import User


def create_app() -> FastAPI:
    engine = create_async_engine(os.environ["DATABASE_URL"])
    sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    algorithm = os.environ.get("ALGORITHM", "HS256")
    secret = os.environ["SECRET_KEY"]
    jwks = jwt.PyJWKClient(os.environ["REFERENCE_JWKS_URL"]) if algorithm[:2] != "HS" else None
    issuer = os.environ.get("BACKEND_BASE_URL", "http://localhost:8000")
    app = FastAPI()
    health = {"status": "ok", "version": __version__}

    @app.get("/health")
    async def get_health() -> dict[str, str]:
        return health

    @app.get("/reference/profile")
    async def profile(authorization: Annotated[str, Header()]) -> dict[str, Any]:
        token = authorization.removeprefix("Bearer ")
        try:
            key: Any = secret if jwks is None else jwks.get_signing_key_from_jwt(token).key
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=issuer,
                issuer=issuer,
            )
        except jwt.PyJWTError as exc:
            raise HTTPException(401) from exc
        async with sessions() as db:
            user = await db.get(User, uuid.UUID(claims["sub"]))
        if user is None or not user.is_active:
            raise HTTPException(401)
        return {
            "id": str(user.id),
            "email": user.email,
            "full_name": user.full_name,
            "role": user.role,
            "is_active": user.is_active,
            "is_verified": user.is_verified,
            "created_at": user.created_at.isoformat(),
        }

    return app
