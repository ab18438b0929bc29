"""`python -m auth_service`: serve the auth-service."""

from auth_service.config import Settings
from auth_service.main import create_app
from servir_runtime.server import serve

if __name__ == "__main__":
    settings = Settings()
    serve(create_app(settings), settings)
