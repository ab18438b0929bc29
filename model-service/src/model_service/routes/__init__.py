"""The model-service's routes."""

from fastapi import APIRouter

from model_service.routes import aliases, health, models, repository, traffic, v2

routers: list[APIRouter] = [
    module.router for module in (health, models, v2, repository, aliases, traffic)
]
