"""The model repository: index, load, unload, upload, delete."""

from fastapi import APIRouter

router = APIRouter()
