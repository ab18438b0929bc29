"""Who may call what (the route table's access rules), and the caller's identity.

Rules match the decoded path, as the upstream's own router does, so both sides agree on
which route a request reaches (`/models/a%2Fpredict` is `/models/a/predict` to both).
"""

from dataclasses import dataclass
from functools import lru_cache

from gateway.routing.lookup import TABLE
from gateway.routing.table import AUTHENTICATED, PUBLIC, Requirement
from shared_schemas.auth import ALL_SCOPES, Scope

__all__ = ["AUTHENTICATED", "PUBLIC", "Principal", "Requirement", "known_scopes", "missing_scope"]


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
    """What a request needs: nothing, any credential, or one scope (the route table says)."""
    return TABLE.place(path).access(method)


def missing_scope(principal: Principal, requirement: Requirement) -> Scope | None:
    """The scope the principal lacks for this requirement, if any."""
    # Two tests, not one `in`: mypy narrows the literal type only through `==`.
    if requirement == PUBLIC:
        return None
    if requirement == AUTHENTICATED:
        return None
    return None if requirement in principal.scopes else requirement
