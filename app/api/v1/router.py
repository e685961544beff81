from fastapi import APIRouter

from app.api.responses import errors
from app.api.v1.endpoints import admin, auth, cache, health, oauth, users

api_router = APIRouter(prefix="/api/v1", responses=errors(503))
# The hottest routes first: routing tries them in order.
api_router.include_router(users.router)
api_router.include_router(auth.router)
api_router.include_router(oauth.router)
api_router.include_router(admin.router)
api_router.include_router(health.admin_router)
api_router.include_router(cache.router)
