"""Who may call what: the access rule of every forwarded route, and the caller's identity.

Rules match the decoded path, as the upstream's own router does, so both sides agree on
which route a request reaches (`/models/a%2Fpredict` is `/models/a/predict` to both).
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

from shared_schemas.auth import ALL_SCOPES, Scope

PUBLIC: Final = "public"
AUTHENTICATED: Final = "authenticated"
Requirement = Literal["public", "authenticated"] | Scope

PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/livez"),
        ("GET", "/readyz"),
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
        ("GET", "/.well-known/jwks.json"),
        ("POST", "/auth/token"),
        ("POST", "/auth/revoke"),
        ("GET", "/v2/health/live"),
        ("GET", "/v2/health/ready"),
    }
)
# Another method on a public path reaches no handler upstream, only its 405 + Allow.
PUBLIC_PATHS = frozenset(path for _, path in PUBLIC_ROUTES)
# No route behind these methods exists but admin ones and predictions; an unknown write
# therefore needs `models:admin` rather than reaching the upstream with any identity.
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: `name` goes downstream (a username, or `key:<id>`)."""

    name: str
    username: str
    scopes: tuple[Scope, ...]


@lru_cache(maxsize=1024)  # a handful of distinct scope strings, parsed once each
def known_scopes(scope: str | None) -> tuple[Scope, ...]:
    """The known scopes a space-separated list names, in canonical order; others are dropped."""
    named = set((scope or "").split())
    return tuple(known for known in ALL_SCOPES if known in named)


def required_access(method: str, path: str) -> Requirement:
    """What a request needs: nothing, any credential, or one scope."""
    method = "GET" if method == "HEAD" else method
    if path in PUBLIC_PATHS:
        return PUBLIC
    parts = path.split("/")[1:]
    if parts[0] == "auth":
        return "users:admin" if len(parts) > 1 and parts[1] == "users" else AUTHENTICATED
    if parts[0] == "models":
        return _model_access(method, parts, action="predict", nested=[])
    if parts[0] == "v2":
        return _model_access(method, parts, action="infer", nested=["models"])
    return AUTHENTICATED


def _model_access(method: str, parts: list[str], *, action: str, nested: list[str]) -> Requirement:
    if method == "GET":
        return "models:read"
    if method not in WRITES:
        return AUTHENTICATED
    if method == "POST" and _is_inference(parts[1:], action=action, nested=nested):
        return "models:predict"
    return "models:admin"


def _is_inference(parts: list[str], *, action: str, nested: list[str]) -> bool:
    """`[nested..., name, action]` or `[nested..., name, "versions", version, action]`."""
    if parts[: len(nested)] != nested:
        return False
    rest = parts[len(nested) :]
    if len(rest) == 2:
        return bool(rest[0]) and rest[1] == action
    if len(rest) == 4:
        return bool(rest[0]) and rest[1] == "versions" and bool(rest[2]) and rest[3] == action
    return False


def missing_scope(principal: Principal, requirement: Requirement) -> Scope | None:
    """The scope the principal lacks for this requirement, if any."""
    # Two tests, not one `in`: mypy narrows the literal type only through `==`.
    if requirement == PUBLIC:
        return None
    if requirement == AUTHENTICATED:
        return None
    return None if requirement in principal.scopes else requirement
