from fastapi import APIRouter

from app.api.v1.endpoints import auth, cache, health, users

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(auth.router)
api_router.include_router(users.router)
api_router.include_router(health.admin_router)
api_router.include_router(cache.router)
