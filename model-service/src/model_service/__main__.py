"""`python -m model_service`: serve the model-service."""

from model_service.config import Settings
from model_service.main import create_app
from servir_runtime.server import serve

if __name__ == "__main__":
    settings = Settings()
    serve(create_app(settings), settings)
