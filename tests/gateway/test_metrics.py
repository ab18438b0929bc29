"""The gateway's Prometheus metrics: bounded route labels, what each call counts, the ASGI
layer that times requests, and the separate `/metrics` listener."""

import asyncio
import random
import string

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Message, Receive, Scope, Send

from gateway.metrics import (
    ROUTES,
    GatewayMetrics,
    RequestMetrics,
    route_template,
    running_metrics_server,
)
from gateway.routing.lookup import OTHER

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

CONCRETE = {
    "/models": "/models",
    "/models/iris": "/models/{name}",
    "/models/iris/predict": "/models/{name}/predict",
    "/models/iris/versions/2": "/models/{name}/versions/{version}",
    "/models/iris/versions/2/predict": "/models/{name}/versions/{version}/predict",
    "/v2": "/v2",
    "/v2/health/live": "/v2/health/live",
    "/v2/health/ready": "/v2/health/ready",
    "/v2/models/churn": "/v2/models/{name}",
    "/v2/models/churn/ready": "/v2/models/{name}/ready",
    "/v2/models/churn/infer": "/v2/models/{name}/infer",
    "/v2/models/churn/versions/10": "/v2/models/{name}/versions/{version}",
    "/v2/models/churn/versions/10/ready": "/v2/models/{name}/versions/{version}/ready",
    "/v2/models/churn/versions/10/infer": "/v2/models/{name}/versions/{version}/infer",
    "/v2/repository/index": "/v2/repository/index",
    "/v2/repository/models/iris/load": "/v2/repository/models/{name}/load",
    "/v2/repository/models/iris/unload": "/v2/repository/models/{name}/unload",
    "/auth/token": "/auth/token",
    "/auth/revoke": "/auth/revoke",
    "/auth/me": "/auth/me",
    "/auth/me/password": "/auth/me/password",
    "/auth/users": "/auth/users",
    "/auth/users/alice": "/auth/users/{username}",
    "/auth/api-keys": "/auth/api-keys",
    "/auth/api-keys/3f2a9c": "/auth/api-keys/{id}",
    "/.well-known/jwks.json": "/.well-known/jwks.json",
    "/livez": "/livez",
    "/readyz": "/readyz",
    "/docs": "/docs",
    "/docs/static/swagger-ui.css": "/docs/static/{name}",
    "/openapi.json": "/openapi.json",
    # Names that spell a fixed segment are still names.
    "/models/predict": "/models/{name}",
    "/models/versions/predict": "/models/{name}/predict",
    "/v2/models/ready/ready": "/v2/models/{name}/ready",
    "/auth/users/me": "/auth/users/{username}",
    "/models/caf%C3%A9": "/models/{name}",
}

UNKNOWN = [
    "",
    "/",
    "//",
    "models",
    "/models/",
    "//models",
    "/models//predict",
    "/models/../predict",
    "/models/./predict",
    "/models/iris/predict/",
    "/models/iris/predict/extra",
    "/models/iris/versions",
    "/models/iris/versions/2/explain",
    "/models/iris/versions//predict",
    "/v2/",
    "/v2/health",
    "/v2/health/dead",
    "/v2/models",
    "/v2/models/iris/versions/1/infer/x",
    "/v2/repository",
    "/v2/repository/models/iris",
    "/v2/repository/models/iris/delete",
    "/auth",
    "/auth/",
    "/auth/me/keys",
    "/auth/users/alice/keys",
    "/auth/api-keys/1/2",
    "/internal/introspect",
    "/metrics",
    "/.well-known/other.json",
    "/favicon.ico",
    "/docs/oauth2-redirect",
    "/docs/static",
    "/docs/static/a/b",
    "/wp-admin/install.php",
    "/" + "a/" * 500,
]


@pytest.mark.parametrize(("path", "template"), CONCRETE.items())
def test_route_template_maps_concrete_paths(path: str, template: str) -> None:
    assert route_template("GET", path) == template


@pytest.mark.parametrize("path", UNKNOWN)
def test_route_template_unknown_paths_are_other(path: str) -> None:
    assert route_template("GET", path) == OTHER


def test_route_template_long_names_stay_templates() -> None:
    assert route_template("POST", "/models/" + "x" * 10_000) == "/models/{name}"


def test_route_template_ignores_the_method() -> None:
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"]
    assert {route_template(method, "/auth/users/bob") for method in methods} == {
        "/auth/users/{username}"
    }


def test_route_template_every_route_is_its_own_template() -> None:
    for route in ROUTES:
        concrete = route.replace("{name}", "iris").replace("{version}", "1")
        concrete = concrete.replace("{username}", "bob").replace("{id}", "k1")
        assert route_template("GET", concrete) == route
        assert route_template("GET", route) == route  # braces are just characters in a name


def test_route_template_random_paths_never_mint_new_labels() -> None:
    rng = random.Random(5)
    alphabet = string.ascii_letters + string.digits + "/.-_%~"
    seen = set()
    for _ in range(5000):
        prefix = rng.choice(["", "/models/", "/v2/models/", "/auth/users/", "/v2/repository/"])
        suffix = "".join(rng.choices(alphabet, k=rng.randint(0, 40)))
        seen.add(route_template("GET", prefix + suffix))
    assert seen <= {*ROUTES, OTHER}
    assert OTHER in seen


def sample(metrics: GatewayMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_observe_counts_requests_and_latency() -> None:
    metrics = GatewayMetrics()
    route = "/models/{name}/predict"
    for seconds in (0.0004, 0.003, 0.003):
        metrics.observe(route, "POST", 200, seconds)
    metrics.observe(route, "POST", 422, 0.001)

    ok = {"route": route, "method": "POST", "status": "200"}
    assert sample(metrics, "servir_gateway_requests_total", **ok) == 3
    assert sample(metrics, "servir_gateway_requests_total", **(ok | {"status": "422"})) == 1
    duration = "servir_gateway_request_duration_seconds"
    assert sample(metrics, f"{duration}_count", route=route) == 4
    assert sample(metrics, f"{duration}_bucket", route=route, le="0.0005") == 1
    assert sample(metrics, f"{duration}_bucket", route=route, le="0.005") == 4
    assert sample(metrics, f"{duration}_sum", route=route) == pytest.approx(0.0074)


def test_observe_unknown_methods_share_one_label() -> None:
    metrics = GatewayMetrics()
    for method in ("PROPFIND", "BREW", "GET"):
        metrics.observe(OTHER, method, 405, 0.001)
    labels = {"route": OTHER, "status": "405"}
    assert sample(metrics, "servir_gateway_requests_total", **labels, method="other") == 2
    assert sample(metrics, "servir_gateway_requests_total", **labels, method="GET") == 1
    assert sample(metrics, "servir_gateway_requests_total", **labels, method="PROPFIND") is None


def test_upstream_errors_retries_and_shedding_are_counted() -> None:
    metrics = GatewayMetrics()
    for kind in ("connect", "timeout", "bad_reply", "circuit_open", "timeout"):
        metrics.upstream_error("model-service", kind)
    metrics.retry("model-service")
    metrics.shed()
    metrics.shed()
    metrics.rate_limited("token")

    errors = "servir_gateway_upstream_errors_total"
    assert sample(metrics, errors, upstream="model-service", kind="timeout") == 2
    assert sample(metrics, errors, upstream="model-service", kind="circuit_open") == 1
    assert sample(metrics, "servir_gateway_upstream_retries_total", upstream="model-service") == 1
    assert sample(metrics, "servir_gateway_shed_total") == 2
    assert sample(metrics, "servir_gateway_rate_limited_total", policy="token") == 1
    assert sample(metrics, "servir_gateway_rate_limited_total", policy="default") is None


def test_upstream_error_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown upstream error kind"):
        GatewayMetrics().upstream_error("auth-service", "weird")


def test_breaker_ejection_fallback_and_in_flight_gauges() -> None:
    metrics = GatewayMetrics()
    replica = {"upstream": "model-service", "replica": "http://m1:8002"}
    states = []
    for state in ("open", "half_open", "half-open", "closed"):
        metrics.set_breaker(replica["upstream"], state)
        states.append(sample(metrics, "servir_gateway_breaker_state", upstream=replica["upstream"]))
    metrics.set_ejected(replica["upstream"], replica["replica"], ejected=True)
    metrics.set_fallback(active=True)
    outstanding = [3]
    metrics.watch_in_flight(replica["upstream"], replica["replica"], lambda: outstanding[0])
    busy = sample(metrics, "servir_gateway_upstream_in_flight", **replica)
    outstanding[0] = 0

    assert states == [2, 1, 1, 0]
    assert sample(metrics, "servir_gateway_replica_ejected", **replica) == 1
    assert sample(metrics, "servir_gateway_rate_limit_fallback") == 1
    assert (busy, sample(metrics, "servir_gateway_upstream_in_flight", **replica)) == (3, 0)
    with pytest.raises(KeyError):
        metrics.set_breaker("model-service", "melted")


def test_forget_replica_drops_its_series() -> None:
    metrics = GatewayMetrics()
    for replica in ("198.18.0.1:8002", "198.18.0.2:8002"):
        metrics.set_ejected("model-service", replica, ejected=False)
        metrics.watch_in_flight("model-service", replica, lambda: 1)
    metrics.forget_replica("model-service", "198.18.0.1:8002")
    metrics.forget_replica("model-service", "198.18.9.9:8002")  # never seen: no error

    text = metrics.render().decode()
    assert "198.18.0.1" not in text
    assert text.count('replica="198.18.0.2:8002"') == 2


def test_render_is_parseable_and_includes_the_process() -> None:
    metrics = GatewayMetrics()
    metrics.observe("/livez", "GET", 200, 0.0002)
    names = {family.name for family in text_string_to_metric_families(metrics.render().decode())}
    assert {"servir_gateway_requests", "servir_gateway_request_duration_seconds"} <= names
    assert "process_resident_memory_bytes" in names


async def answer(status: int, scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def test_request_metrics_times_requests_by_template() -> None:
    metrics = GatewayMetrics()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(0.01)
        await answer(201, scope, receive, send)

    transport = httpx.ASGITransport(app=RequestMetrics(app, metrics=metrics))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
        assert (await client.post("/models/iris/predict")).status_code == 201
        assert (await client.get("/no/such/thing")).status_code == 201

    route = "/models/{name}/predict"
    counted = sample(
        metrics, "servir_gateway_requests_total", route=route, method="POST", status="201"
    )
    assert counted == 1
    assert sample(metrics, "servir_gateway_requests_total", route=OTHER, method="GET", status="201")
    seconds = sample(metrics, "servir_gateway_request_duration_seconds_sum", route=route)
    assert seconds is not None
    assert 0.01 <= seconds < 1


async def test_request_metrics_counts_a_request_that_never_answered_as_499() -> None:
    metrics = GatewayMetrics()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise asyncio.CancelledError

    scope = {"type": "http", "method": "GET", "path": "/v2/health/ready"}
    with pytest.raises(asyncio.CancelledError):
        await RequestMetrics(app, metrics=metrics)(scope, no_receive, no_send)
    labels = {"route": "/v2/health/ready", "method": "GET", "status": "499"}
    assert sample(metrics, "servir_gateway_requests_total", **labels) == 1


async def no_receive() -> Message:
    raise AssertionError("the app did not read")


async def no_send(message: Message) -> None:
    raise AssertionError("the app did not answer")


async def test_metrics_server_answers_metrics_on_a_free_port() -> None:
    metrics = GatewayMetrics()
    metrics.observe("/v2/health/ready", "GET", 200, 0.002)
    async with (
        running_metrics_server(metrics, "127.0.0.1", 0) as server,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", trust_env=False) as client,
    ):
        response = await client.get("/metrics")
        head = await client.head("/metrics")
        with_query = await client.get("/metrics?name[]=x")
    assert server.port > 0
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    requests = families["servir_gateway_requests"]
    assert [(s.labels, s.value) for s in requests.samples if s.name.endswith("_total")] == [
        ({"route": "/v2/health/ready", "method": "GET", "status": "200"}, 1.0)
    ]
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"] == CONTENT_TYPE
    assert int(head.headers["content-length"]) > 0  # process figures move between scrapes
    assert with_query.status_code == 200


async def test_metrics_server_refuses_other_paths_and_methods() -> None:
    async with (
        running_metrics_server(GatewayMetrics(), "127.0.0.1", 0) as server,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", trust_env=False) as client,
    ):
        missing = await client.get("/")
        also_missing = await client.get("/metrics/")
        wrong_method = await client.post("/metrics", content=b"x")
    assert (missing.status_code, also_missing.status_code) == (404, 404)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "GET, HEAD"


async def raw_exchange(port: int, request: bytes) -> bytes:
    """What the server sent back before closing (nothing if it reset the connection)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 5)
    except ConnectionResetError:
        return b""
    finally:
        writer.close()


async def test_metrics_server_survives_garbage_and_oversized_heads() -> None:
    async with running_metrics_server(GatewayMetrics(), "127.0.0.1", 0) as server:
        garbage = await raw_exchange(server.port, b"\x16\x03\x01 hello\r\n\r\n")
        huge = await raw_exchange(server.port, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20_000)
        after = await raw_exchange(server.port, b"GET /metrics HTTP/1.1\r\n\r\n")
    assert garbage.startswith(b"HTTP/1.1 400 ")
    assert huge == b""
    assert after.startswith(b"HTTP/1.1 200 OK\r\n")


async def test_metrics_server_stops_when_the_block_exits() -> None:
    async with running_metrics_server(GatewayMetrics(), "127.0.0.1", 0) as server:
        idle = await asyncio.open_connection("127.0.0.1", server.port)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", server.port)
    reader, writer = idle
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
