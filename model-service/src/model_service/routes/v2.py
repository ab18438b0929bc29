"""Open Inference Protocol v2 model endpoints."""

from fastapi import APIRouter

router = APIRouter()
