"""`python -m gateway`: serve the gateway."""

from gateway.config import Settings
from gateway.main import create_app
from shared_schemas.runtime.heads import bounded_head_protocol
from shared_schemas.runtime.server import serve

if __name__ == "__main__":
    settings = Settings()
    head = bounded_head_protocol(
        max_bytes=settings.max_header_bytes, max_headers=settings.max_headers
    )
    serve(create_app(settings), settings, http=head)
