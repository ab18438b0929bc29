"""`python -m gateway`: serve the gateway."""

from gateway.config import Settings
from gateway.main import connection_protocol, create_app
from servir_runtime.server import serve

if __name__ == "__main__":
    settings = Settings()
    serve(create_app(settings), settings, http=connection_protocol(settings))
