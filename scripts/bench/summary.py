"""The ratios issue 14's targets are stated in, computed from one run's cells (where the run
has both sides: the quick matrix has fewer)."""

from typing import Any

from scripts.bench.matrix import BASELINE, JSON, SERVICE, STACK, V2

Results = list[dict[str, Any]]
COMPILED, SKLEARN = "auto", "sklearn"


def find(results: Results, **fields: Any) -> dict[str, Any] | None:
    """The one result whose fields equal `fields`, if the run has it."""
    return next((r for r in results if all(r.get(k) == v for k, v in fields.items())), None)


def ratio(top: float, bottom: float) -> float | None:
    """top / bottom, rounded; None when either side failed (no requests, no CPU read)."""
    return round(top / bottom, 2) if top > 0 and bottom > 0 else None


def gateway_cost(results: Results) -> dict[str, Any]:
    """What the gateway adds on iris: p50 at 1 connection, CPU per request at 64."""
    out: dict[str, Any] = {}
    for connections, figure, name in (
        (1, "p50_ms", "added_p50_ms_c1"),
        (64, "cpu_ms_per_request", "added_cpu_ms_c64"),
    ):
        load = {"model": "iris", "rows": 1, "connections": connections, "route": JSON}
        stack = find(results, target=STACK, **load)
        alone = find(results, target=SERVICE, runtime=COMPILED, **load)
        if stack and alone:
            out[name] = round(stack[figure] - alone[figure], 3)
    return out


def compiled_vs_sklearn(results: Results, models: list[str]) -> dict[str, Any]:
    """Per model, JSON route, one row: scikit-learn's CPU per request over the compiled
    runtime's at 1 connection, and the compiled runtime's req/s over scikit-learn's at 64."""
    out: dict[str, Any] = {}
    for model in models:
        load = {"target": SERVICE, "route": JSON, "model": model, "rows": 1}
        lone = [find(results, runtime=r, connections=1, **load) for r in (COMPILED, SKLEARN)]
        busy = [find(results, runtime=r, connections=64, **load) for r in (COMPILED, SKLEARN)]
        figures: dict[str, Any] = {}
        if lone[0] and lone[1]:
            figures["cpu_x_c1"] = ratio(
                lone[1]["cpu_ms_per_request"], lone[0]["cpu_ms_per_request"]
            )
            figures["compiled_p50_ms_c1"] = lone[0]["p50_ms"]
        if busy[0] and busy[1]:
            figures["req_s_x_c64"] = ratio(busy[0]["requests_per_s"], busy[1]["requests_per_s"])
        out[model] = figures
    return out


def v2_vs_json(results: Results) -> dict[str, float | None]:
    """V2's req/s over the JSON route's, per model-service cell that has both."""
    out: dict[str, float | None] = {}
    for v2 in (r for r in results if r["target"] == SERVICE and r["route"] == V2):
        keys = ("runtime", "model", "rows", "connections")
        plain = find(results, target=SERVICE, route=JSON, **{k: v2[k] for k in keys})
        if plain:
            label = f"{v2['runtime']} {v2['model']} rows={v2['rows']} c={v2['connections']}"
            out[label] = ratio(v2["requests_per_s"], plain["requests_per_s"])
    return out


def rows100_vs_baseline(results: Results) -> dict[str, float | None]:
    """100-row requests: the model-service's req/s (compiled runtime) over the baseline's."""
    out: dict[str, float | None] = {}
    for base in (r for r in results if r["target"] == BASELINE and r["rows"] == 100):
        keys = {k: base[k] for k in ("model", "rows", "connections")}
        ours = find(results, target=SERVICE, route=JSON, runtime=COMPILED, **keys)
        if ours:
            label = f"{base['model']} c={base['connections']}"
            out[label] = ratio(ours["requests_per_s"], base["requests_per_s"])
    return out


def summary(results: Results, models: list[str]) -> dict[str, Any]:
    """Every ratio the run can give."""
    return {
        "gateway_cost": gateway_cost(results),
        "compiled_vs_sklearn": compiled_vs_sklearn(results, models),
        "v2_vs_json_req_s": v2_vs_json(results),
        "rows100_vs_baseline_req_s": rows100_vs_baseline(results),
    }
