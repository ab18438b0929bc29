"""The route table and the merged OpenAPI document hold each other: every public operation
has its route, every documented route its operation; and lookups follow the table."""

from typing import Any

import pytest

from gateway.routing.lookup import OTHER, TABLE, RouteTable
from gateway.routing.table import AREAS, FORWARDED_METHODS, MODEL, OWN, ROUTES, UPLOAD, Route

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

METHODS = frozenset(method.lower() for method in FORWARDED_METHODS)


def operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    ]


async def test_the_table_and_the_document_hold_each_other(merged_openapi: dict[str, Any]) -> None:
    documented = operations(merged_openapi)
    routes = {(m, p): TABLE.place(p).route(m) for m, p in documented}
    # Every operation of the document has its route...
    assert documented
    assert [operation for operation, route in routes.items() if route is None] == []
    # ...every documented route has an operation...
    found = set(routes.values())
    assert [route for route in ROUTES if route.documented and route not in found] == []
    # ...and its upstream is the one whose document shows it (the gateway's own: its own).
    own_paths = {"/livez", "/readyz"}
    for (method, path), route in routes.items():
        assert route is not None
        assert (route.upstream == OWN) == (path in own_paths), (method, path)


def test_templated_paths_match_any_name_but_not_an_empty_one() -> None:
    place = TABLE.place("/models/iris/versions/2/predict")
    assert place.metric == "/models/{name}/versions/{version}/predict"
    assert place.upstream == MODEL
    assert place.access("POST") == "models:predict"
    for path in ("/models//predict", "/models/./predict", "/models/../predict"):
        assert TABLE.place(path).metric == OTHER
        assert TABLE.place(path).upstream == MODEL  # still forwarded: the upstream says 404


def test_head_reaches_the_get_route() -> None:
    assert TABLE.place("/models/iris").route("HEAD") == TABLE.place("/models/iris").route("GET")


def test_only_the_upload_has_its_own_budget() -> None:
    assert TABLE.upload_routes() == {("POST", "/models")}
    assert TABLE.place("/models").budget("POST") is UPLOAD


def test_paths_outside_the_table_are_the_gateways_own() -> None:
    for path in ("/", "/auth", "/.well-known/other.json", "/internal/introspect", "/metrics"):
        assert not TABLE.place(path).forwarded, path
        assert TABLE.place(path).metric == OTHER


def test_a_path_has_one_upstream() -> None:
    both = [Route("GET", "/x", OWN, "public"), Route("POST", "/x", MODEL, "models:admin")]
    with pytest.raises(ValueError, match="one upstream"):
        RouteTable(both, AREAS)


def test_adding_a_forwarded_endpoint_is_one_entry() -> None:
    added = Route("POST", "/models/{name}/explain", MODEL, "models:predict")
    table = RouteTable([*ROUTES, added], AREAS)
    place = table.place("/models/iris/explain")
    assert (place.metric, place.access("POST"), place.forwarded) == (
        "/models/{name}/explain",
        "models:predict",
        True,
    )
    assert TABLE.place("/models/iris/explain").access("POST") == "models:admin"


def test_remembered_paths_stay_bounded() -> None:
    table = RouteTable(ROUTES, AREAS)
    for number in range(10_000):
        assert table.place(f"/models/m{number}/predict").metric == "/models/{name}/predict"
    assert table.place("/models/" + "x" * 10_000).metric == "/models/{name}"
    assert 0 < len(table.remembered) <= 4096
    assert all(len(path) <= 256 for path in table.remembered)
