"""Finding a request's place in the route table, fast: it is asked several times a request.

Literal paths are one dict lookup; templated ones walk a tree of segments, a dict lookup per
segment (no node has both a literal and a wildcard child, so matching never backtracks), and
are remembered in a bounded dict (`/models/iris/predict` comes again and again).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from gateway.routing.table import (
    AREAS,
    OUTSIDE,
    OWN,
    PUBLIC,
    ROUTES,
    STANDARD,
    UPLOAD,
    WRITES,
    Area,
    Budget,
    Limit,
    Requirement,
    Route,
    Upstream,
)

OTHER: Final = "other"  # the metric label of a path the table does not list
WILDCARD: Final = "{}"
NOT_A_NAME: Final = frozenset({"", ".", ".."})
# Matched paths remembered; past this many the memory starts afresh, and longer paths are
# not kept (callers choose paths, so it must stay small; a miss costs only the walk).
MAX_REMEMBERED: Final = 4096
MAX_REMEMBERED_LENGTH: Final = 256


@dataclass(frozen=True, slots=True)
class Place:
    """What the table says of one path, for any method."""

    metric: str
    upstream: Upstream
    area: Area
    routes: Mapping[str, Route] = field(default_factory=dict)  # by method (GET serves HEAD)
    # Anyone may call every route of the path: another method on it reaches only its
    # 405 + Allow, whoever asks (RFC 9110).
    public: bool = False

    @property
    def forwarded(self) -> bool:
        """True when an upstream serves the path."""
        return self.upstream != OWN

    def route(self, method: str) -> Route | None:
        """The route `method` reaches here, if the table lists one."""
        return self.routes.get("GET" if method == "HEAD" else method)

    def access(self, method: str) -> Requirement:
        """What a request needs: nothing, any credential, or one scope."""
        route = self.route(method)
        if route is not None:
            return route.access
        if self.public:
            return PUBLIC
        if method in ("GET", "HEAD"):
            return self.area.read
        return self.area.write if method in WRITES else self.area.other

    def limit(self, method: str) -> Limit:
        """The policy the request counts under when anonymous (see `table.Limit`)."""
        route = self.route(method)
        if route is not None:
            return route.limit
        if self.access(method) != PUBLIC:
            return "default"
        return "public" if method in WRITES else None

    def budget(self, method: str) -> Budget:
        """The settings bounding the request's body and upstream call."""
        route = self.route(method)
        return STANDARD if route is None else route.budget


@dataclass
class _Node:
    children: dict[str, "_Node"] = field(default_factory=dict)
    place: Place | None = None


class RouteTable:
    """The table, indexed for lookups by path."""

    def __init__(self, routes: Iterable[Route], areas: Iterable[Area]) -> None:
        self.routes = tuple(routes)
        self.areas = tuple(areas)
        self.area_places = tuple(Place(OTHER, area.upstream, area) for area in self.areas)
        self.nowhere = Place(OTHER, OUTSIDE.upstream, OUTSIDE)
        self.places = self._places()
        self.exact = {path: place for path, place in self.places.items() if "{" not in path}
        self.tree = self._tree()
        self.remembered: dict[str, Place] = {}
        self.max_segments = max(path.count("/") for path in self.places)

    def _places(self) -> dict[str, Place]:
        by_path: dict[str, dict[str, Route]] = {}
        for route in self.routes:
            by_path.setdefault(route.path, {})[route.method] = route
        places = {}
        for path, routes in by_path.items():
            upstreams = {route.upstream for route in routes.values()}
            if len(upstreams) != 1:
                raise ValueError(f"{path}: one upstream serves a path, not {sorted(upstreams)}")
            area = self._area(path + "/")
            public = all(route.access == PUBLIC for route in routes.values())
            places[path] = Place(path, upstreams.pop(), area, routes, public)
        return places

    def _area(self, path: str) -> Area:
        return next((area for area in self.areas if path.startswith(area.prefix)), OUTSIDE)

    def _tree(self) -> _Node:
        root = _Node()
        for path, place in self.places.items():
            node = root
            for segment in path.split("/")[1:]:
                key = WILDCARD if segment.startswith("{") else segment
                node = node.children.setdefault(key, _Node())
            node.place = place
        return root

    def place(self, path: str) -> Place:
        """Where `path` belongs: a path of the table, else an area, else nowhere."""
        place = self.exact.get(path) or self.remembered.get(path)
        if place is None:
            place = self._find(path)
            if len(path) <= MAX_REMEMBERED_LENGTH:
                if len(self.remembered) >= MAX_REMEMBERED:
                    self.remembered.clear()
                self.remembered[path] = place
        return place

    def _find(self, path: str) -> Place:
        place = self._match(path)
        if place is not None:
            return place
        for area_place in self.area_places:
            if path.startswith(area_place.area.prefix):
                return area_place
        return self.nowhere

    def _match(self, path: str) -> Place | None:
        segments = path.split("/")
        if segments[0] or len(segments) > self.max_segments + 1:
            return None
        node = self.tree
        for segment in segments[1:]:
            child = node.children.get(segment)
            if child is None and segment not in NOT_A_NAME:
                child = node.children.get(WILDCARD)
            if child is None:
                return None
            node = child
        return node.place

    def forwarded_paths(self) -> list[str]:
        """FastAPI path patterns covering every forwarded path (for its 405 + Allow)."""
        prefixes = [area.prefix for area in self.areas]
        outer = [p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes)]
        paths = [prefix + "{rest:path}" for prefix in outer]
        for path, place in self.places.items():
            if place.forwarded and not path.startswith(tuple(outer)):
                paths.append(path)
        return paths

    def upload_routes(self) -> frozenset[tuple[str, str]]:
        """(method, path) of the routes with the upload budget (literal paths: the
        connection's body deadline is chosen before any routing)."""
        routes = frozenset((r.method, r.path) for r in self.routes if r.budget == UPLOAD)
        if any("{" in path for _, path in routes):
            raise ValueError("a route with its own budget must have a literal path")
        return routes


TABLE: Final = RouteTable(ROUTES, AREAS)
