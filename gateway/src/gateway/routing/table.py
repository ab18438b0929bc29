"""Every route the gateway knows, in one table: who serves it, who may call it, its limits.

The edge, the access checks, the rate limits, the metrics and the merged OpenAPI document all
read this table (through `gateway.routing.lookup`); nothing else in the gateway knows a path.
Adding a forwarded endpoint is one `Route` below.

Paths are OpenAPI templates: a `{...}` segment matches any one segment that names something
(not empty, `.` or `..`). Paths the table does not list but an `Area` covers are still
forwarded (the upstream answers 404 or 405), under the area's access rule.
"""

from dataclasses import dataclass
from typing import Final, Literal

from gateway.config import Settings
from shared_schemas.auth import Scope

PUBLIC: Final = "public"
AUTHENTICATED: Final = "authenticated"
Requirement = Literal["public", "authenticated"] | Scope
Upstream = Literal["own", "auth", "model"]
OWN: Final = "own"
AUTH: Final = "auth"
MODEL: Final = "model"
# The policy an anonymous caller counts under, per client IP (a principal always counts under
# `default`): `token` on the token endpoint, `public` on other public writes; None: not counted.
Limit = Literal["default", "token", "public"] | None
# No route behind these methods exists but admin ones and predictions; an unknown write
# therefore needs `models:admin` rather than reaching the upstream with any identity.
WRITES: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORWARDED_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True, slots=True)
class Budget:
    """The settings (`Settings` field names) bounding a request's body and its upstream call."""

    max_bytes: str
    body_seconds: str
    upstream_seconds: str | None  # None: the upstream's own read timeout

    @property
    def setting(self) -> str:
        """The environment variable of the body limit, as a 413 names it."""
        return f"GATEWAY_{self.max_bytes.upper()}"

    def body_limit(self, settings: Settings) -> int:
        """The most bytes a body may have."""
        return int(getattr(settings, self.max_bytes))

    def body_deadline(self, settings: Settings) -> float:
        """Seconds a body has to arrive after its head (the connection enforces it)."""
        return float(getattr(settings, self.body_seconds))

    def upstream_deadline(self, settings: Settings) -> float | None:
        """The upstream's read timeout for the route, or None for the upstream's own."""
        if self.upstream_seconds is None:
            return None
        return float(getattr(settings, self.upstream_seconds))


STANDARD: Final = Budget("max_body_bytes", "body_timeout_seconds", None)
# Uploads of bundles: a larger body, longer to arrive and longer to install.
UPLOAD: Final = Budget("max_upload_bytes", "upload_body_timeout_seconds", "upload_timeout_seconds")


@dataclass(frozen=True, slots=True)
class Route:
    """One operation: `method` on `path`, served by `upstream`, needing `access`."""

    method: str
    path: str
    upstream: Upstream
    access: Requirement
    limit: Limit = "default"
    budget: Budget = STANDARD
    # Errors in RFC 6749's body rather than problem+json (the token endpoint).
    oauth_errors: bool = False
    # False: served but kept out of the OpenAPI document (Swagger UI's own routes).
    documented: bool = True

    @property
    def metric(self) -> str:
        """The route label of the metrics: the template, never the raw path."""
        return self.path


@dataclass(frozen=True, slots=True)
class Area:
    """Paths under `prefix` the table does not list: forwarded, needing `read` for GET and
    HEAD, `write` for WRITES and `other` otherwise."""

    prefix: str
    upstream: Upstream
    read: Requirement
    write: Requirement
    other: Requirement


def _public(
    method: str, path: str, upstream: Upstream, *, token: bool = False, documented: bool = True
) -> Route:
    """A route anyone may call: public reads are not counted, public writes per client IP,
    the token endpoint (`token`) under its own policy and with RFC 6749's errors."""
    limit: Limit = "token" if token else "public" if method in WRITES else None
    return Route(
        method, path, upstream, PUBLIC, limit=limit, oauth_errors=token, documented=documented
    )


ROUTES: Final = (
    # The gateway's own.
    _public("GET", "/livez", OWN),
    _public("GET", "/readyz", OWN),
    _public("GET", "/openapi.json", OWN, documented=False),
    _public("GET", "/docs", OWN, documented=False),
    _public("GET", "/docs/static/{name}", OWN, documented=False),
    # The auth-service.
    _public("POST", "/auth/token", AUTH, token=True),
    _public("POST", "/auth/revoke", AUTH),
    _public("GET", "/.well-known/jwks.json", AUTH),
    Route("GET", "/auth/me", AUTH, AUTHENTICATED),
    Route("POST", "/auth/me/password", AUTH, AUTHENTICATED),
    Route("GET", "/auth/users", AUTH, "users:admin"),
    Route("POST", "/auth/users", AUTH, "users:admin"),
    Route("PATCH", "/auth/users/{username}", AUTH, "users:admin"),
    Route("DELETE", "/auth/users/{username}", AUTH, "users:admin"),
    Route("GET", "/auth/api-keys", AUTH, AUTHENTICATED),
    Route("POST", "/auth/api-keys", AUTH, AUTHENTICATED),
    Route("DELETE", "/auth/api-keys/{id}", AUTH, AUTHENTICATED),
    # The model-service: its own API.
    Route("GET", "/models", MODEL, "models:read"),
    Route("POST", "/models", MODEL, "models:admin", budget=UPLOAD),
    Route("GET", "/models/{name}", MODEL, "models:read"),
    Route("POST", "/models/{name}/predict", MODEL, "models:predict"),
    # MLflow's scoring protocol (`mlflow models serve` answers it at `/invocations`).
    Route("POST", "/models/{name}/invocations", MODEL, "models:predict"),
    Route("DELETE", "/models/{name}/versions/{version}", MODEL, "models:admin"),
    Route("PUT", "/models/{name}/aliases/{alias}", MODEL, "models:admin"),
    Route("DELETE", "/models/{name}/aliases/{alias}", MODEL, "models:admin"),
    Route("PUT", "/models/{name}/traffic", MODEL, "models:admin"),
    Route("GET", "/models/{name}/traffic", MODEL, "models:read"),
    Route("DELETE", "/models/{name}/traffic", MODEL, "models:admin"),
    Route("POST", "/models/{name}/versions/{version}/predict", MODEL, "models:predict"),
    Route("POST", "/models/{name}/versions/{version}/invocations", MODEL, "models:predict"),
    # The model-service: the Open Inference Protocol (V2).
    Route("GET", "/v2", MODEL, "models:read"),
    _public("GET", "/v2/health/live", MODEL),
    _public("GET", "/v2/health/ready", MODEL),
    Route("GET", "/v2/models/{name}", MODEL, "models:read"),
    Route("GET", "/v2/models/{name}/ready", MODEL, "models:read"),
    Route("POST", "/v2/models/{name}/infer", MODEL, "models:predict"),
    Route("GET", "/v2/models/{name}/versions/{version}", MODEL, "models:read"),
    Route("GET", "/v2/models/{name}/versions/{version}/ready", MODEL, "models:read"),
    Route("POST", "/v2/models/{name}/versions/{version}/infer", MODEL, "models:predict"),
    Route("POST", "/v2/repository/index", MODEL, "models:admin"),
    Route("POST", "/v2/repository/models/{name}/load", MODEL, "models:admin"),
    Route("POST", "/v2/repository/models/{name}/unload", MODEL, "models:admin"),
)

# Most specific first: the first whose prefix a path starts with applies.
AREAS: Final = (
    Area("/auth/users/", AUTH, "users:admin", "users:admin", "users:admin"),
    Area("/auth/", AUTH, AUTHENTICATED, AUTHENTICATED, AUTHENTICATED),
    Area("/models/", MODEL, "models:read", "models:admin", AUTHENTICATED),
    Area("/v2/", MODEL, "models:read", "models:admin", AUTHENTICATED),
)
# Paths outside the table and its areas: the gateway's 404, and nothing public.
OUTSIDE: Final = Area("", OWN, AUTHENTICATED, AUTHENTICATED, AUTHENTICATED)
