"""The auth-service's routes."""

from fastapi import APIRouter

from auth_service.routes import api_keys, health, oauth, users

router = APIRouter()
for module in (health, oauth, users, api_keys):
    router.include_router(module.router)
