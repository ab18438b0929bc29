"""`/openapi.json` (the gateway's document merged with its upstreams') and `/docs` (Swagger UI,
served entirely from the gateway: no CDN, no inline script, a CSP of 'self' only)."""

from pathlib import Path
from typing import Final

import fastapi_offline
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response

from gateway.deps import OpenAPIDep

SWAGGER_UI: Final = Path(fastapi_offline.__file__).parent / "static"
ASSETS: Final = {
    "swagger-ui-bundle.js": SWAGGER_UI / "swagger-ui-bundle.js",
    "swagger-ui.css": SWAGGER_UI / "swagger-ui.css",
    "favicon.png": SWAGGER_UI / "favicon.png",
}
# Swagger UI's own validator badge would ask a public server about the document: off.
START_SCRIPT: Final = """\
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
  validatorUrl: null,
});
"""
PAGE: Final = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Servir API</title>
<link rel="icon" type="image/png" href="/docs/static/favicon.png">
<link rel="stylesheet" href="/docs/static/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/static/start.js"></script>
</body>
</html>
"""
PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}
ASSET_HEADERS: Final = {
    "Cache-Control": "public, max-age=86400",
    "X-Content-Type-Options": "nosniff",
}


router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
async def openapi(request: Request, document: OpenAPIDep) -> Response:
    """The whole public API in one OpenAPI document."""
    body = await document.current(request_id=request.state.request_id)
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-cache"})


@router.get("/docs")
async def docs() -> Response:
    """Swagger UI over `/openapi.json`."""
    return Response(PAGE, media_type="text/html", headers=PAGE_HEADERS)


@router.get("/docs/static/{name}")
async def docs_asset(name: str) -> Response:
    """Swagger UI's own files and the script that starts it."""
    if name == "start.js":
        return Response(START_SCRIPT, media_type="text/javascript", headers=ASSET_HEADERS)
    path = ASSETS.get(name)
    if path is None:
        raise HTTPException(404, f"No file {name} in /docs/static.")
    return FileResponse(path, headers=ASSET_HEADERS)
