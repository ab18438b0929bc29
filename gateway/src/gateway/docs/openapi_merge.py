"""One OpenAPI document for the public API: the gateway's own paths, the paths it forwards to
each upstream (taken from that upstream's document), and the credentials each operation needs.

Pure functions over JSON-like dicts; nothing here fetches anything.
"""

import copy
import json
from collections.abc import Iterator, Mapping
from typing import Final

from gateway.auth.access import AUTHENTICATED, PUBLIC, required_access
from gateway.config import Settings
from gateway.docs.components import Document, add_components, prune, rewrite_refs
from gateway.routing.lookup import TABLE
from gateway.routing.table import Budget, Route
from shared_schemas.auth import ALL_SCOPES

# The token endpoint (the route table's one answering in RFC 6749's errors).
TOKEN_URL: Final = next(route.path for route in TABLE.routes if route.oauth_errors)
OAUTH2: Final = "OAuth2"
API_KEY: Final = "APIKey"
SCOPE_TEXT: Final = {
    "models:read": "List and describe models",
    "models:predict": "Predict with models",
    "models:admin": "Upload, delete, load and unload models",
    "users:admin": "Manage users",
}
SECURITY_SCHEMES: Final = {
    OAUTH2: {
        "type": "oauth2",
        "description": "Log in with a username and password; the token goes as a Bearer header.",
        "flows": {
            "password": {
                "tokenUrl": TOKEN_URL,
                "refreshUrl": TOKEN_URL,
                "scopes": {scope: SCOPE_TEXT[scope] for scope in ALL_SCOPES},
            }
        },
    },
    API_KEY: {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "An API key."},
}
DESCRIPTION: Final = (
    "Every public route of Servir, through its gateway: sign-in and users (`/auth`), models "
    "(`/models`) and the Open Inference Protocol (`/v2`). Authorize with a username and "
    "password (OAuth2 password flow) or an API key (`X-API-Key`)."
)
RETRY_AFTER: Final = {
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "required": True,
        "schema": {"type": "integer"},
    }
}
# Answered by the gateway itself, whatever the upstream's document says.
GATEWAY_ERRORS: Final[dict[str, tuple[str, Document]]] = {
    "502": ("An upstream answered badly", {}),
    "503": (
        "An upstream is unreachable or its circuit open, or the gateway is overloaded",
        RETRY_AFTER,
    ),
    "504": ("An upstream timed out", {}),
}
METHODS: Final = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def parse_document(raw: bytes) -> Document | None:
    """An upstream's OpenAPI document, or None when it is not one."""
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
        return None
    return document


def merge(own: Document, upstreams: Mapping[str, Document | None]) -> Document:
    """The gateway's `own` document plus each upstream's forwarded paths and their components.

    `upstreams` maps an upstream of the route table to its document (None: not known yet, left out).
    """
    merged = copy.deepcopy(own)
    merged["info"] = {**merged.get("info", {}), "description": DESCRIPTION}
    components = merged.setdefault("components", {})
    paths: Document = {}
    for name, document in upstreams.items():
        if document is not None:
            paths.update(_upstream_paths(name, document, components))
    own_paths = merged.get("paths", {})
    merged["paths"] = {**paths, **own_paths}  # the gateway's own paths win
    _unique_operation_ids(merged["paths"])
    _secure(merged["paths"])
    _gateway_errors({path: item for path, item in merged["paths"].items() if path not in own_paths})
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    prune(merged)
    return merged


def _upstream_paths(name: str, document: Document, components: Document) -> Document:
    # What the gateway forwards to this upstream, as the route table says: everything else
    # in an upstream's document (/livez, /readyz, /metrics, /internal/*) is not public.
    paths = {
        path: item
        for path, item in document["paths"].items()
        if TABLE.place(path).upstream == name and isinstance(item, dict)
    }
    renames = add_components(components, document.get("components", {}), prefix=name.title())
    paths = copy.deepcopy(paths)
    rewrite_refs(paths, renames)
    return paths


def _operations(paths: Document) -> Iterator[tuple[str, str, Document]]:
    for path, item in paths.items():
        for method, operation in item.items():
            if method in METHODS and isinstance(operation, dict):
                yield path, method, operation


def _unique_operation_ids(paths: Document) -> None:
    seen: set[str] = set()
    for _, _, operation in _operations(paths):
        base = operation.get("operationId")
        if not isinstance(base, str):
            continue
        operation_id, number = base, 2
        while operation_id in seen:
            operation_id, number = f"{base}_{number}", number + 1
        operation["operationId"] = operation_id
        seen.add(operation_id)


def _secure(paths: Document) -> None:
    """Declare, on each operation, the credential and scope the gateway asks of it."""
    for path, method, operation in _operations(paths):
        need = required_access(method.upper(), path)
        if need == PUBLIC:
            operation.pop("security", None)
            continue
        scopes = [] if need == AUTHENTICATED else [need]
        operation["security"] = [{OAUTH2: scopes}, {API_KEY: scopes}]
        responses = operation.setdefault("responses", {})
        # The gateway refuses in the same problem+json shape as the upstream's other errors.
        error = {k: v for k, v in responses.get("default", {}).items() if k != "description"}
        responses.setdefault("401", {"description": "No valid credential", **error})
        if scopes:
            responses.setdefault("403", {"description": f"The credential lacks {need}", **error})


def _gateway_errors(forwarded: Document) -> None:
    """Declare what the gateway itself may answer on each operation it forwards (docs/api.md)."""
    for path, method, operation in _operations(forwarded):
        place, verb = TABLE.place(path), method.upper()
        responses = operation.setdefault("responses", {})
        content = _error_content(place.route(verb), responses)
        own = dict(GATEWAY_ERRORS)
        if "requestBody" in operation:
            own["413"] = (_too_large(place.budget(verb)), {})
        # Limited: every authenticated operation, and every public write per client IP.
        if place.limit(verb) is not None:
            own["429"] = ("Over a rate limit (RateLimit-Policy, RateLimit)", RETRY_AFTER)
        for status, (description, headers) in own.items():
            declared = {"description": description, **content}
            if headers:
                declared["headers"] = copy.deepcopy(headers)
            responses.setdefault(status, declared)


def _too_large(budget: Budget) -> str:
    # The limit in bytes, as the 413 itself says it: callers cannot change a setting, and the
    # operator's log line of each 413 names it.
    default = Settings.model_fields[budget.max_bytes].default
    return f"The body is larger than this route's limit ({default} bytes by default)"


def _error_content(route: Route | None, responses: Document) -> Document:
    """The body the gateway's errors have here: the token endpoint's are RFC 6749's."""
    source = "400" if route is not None and route.oauth_errors else "default"
    return {k: v for k, v in responses.get(source, {}).items() if k == "content"}
