"""`make bench`'s pieces that need no load: wrk's report, CPU time from /proc, the matrices."""

import json
import os
from pathlib import Path

from scripts.bench.matrix import BASELINE, ECHO, RUNTIMES, SERVICE, STACK, V2, full_cells, plan
from scripts.bench.measure import (
    Load,
    cpu_ms,
    cpu_ticks,
    latency_ms,
    parse_wrk,
    per_request_ms,
    rss_mib,
    script_lines,
)
from scripts.bench.store import MODELS, json_body, rows, v2_body
from scripts.bench.summary import summary

REPORT = """Running 5s test @ http://127.0.0.1:40001/models/iris/predict
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    14.57ms    5.10ms   1.20s    70.00%
    Req/Sec     4.50k   300.00     4.80k    80.00%
  Latency Distribution
     50%  850.00us
     75%   17.00ms
     90%   21.00ms
     99%    1.20s
  22400 requests in 5.00s, 3.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   4480.12
Transfer/sec:    600.00KB
"""


def test_a_wrk_report_becomes_figures_in_ms() -> None:
    figures = parse_wrk(REPORT)
    assert figures.requests == 22400
    assert figures.requests_per_s == 4480.12
    assert figures.p50_ms == 0.85
    assert figures.p99_ms == 1200.0
    assert figures.non_2xx == 7
    assert figures.socket_errors == 5


def test_a_report_without_errors_or_percentiles_says_zero_and_minus_one() -> None:
    quiet = "\n".join(line for line in REPORT.splitlines() if "errors" not in line)
    quiet = quiet.replace("Non-2xx or 3xx responses: 7", "")
    figures = parse_wrk(quiet)
    assert (figures.non_2xx, figures.socket_errors) == (0, 0)
    assert latency_ms("no distribution", "99") == -1.0


def test_cpu_time_is_utime_plus_stime_even_when_the_name_holds_spaces_and_parens() -> None:
    fields = ["S", *["0"] * 10, "1234", "56", *["0"] * 30]
    stat = "4242 (python -m (x) y) " + " ".join(fields)
    assert cpu_ticks(stat) == 1234 + 56


def test_cpu_and_memory_of_a_real_process_are_read_from_proc() -> None:
    before = cpu_ms([os.getpid()])
    sum(i * i for i in range(200_000))  # some CPU time to count
    assert cpu_ms([os.getpid()]) >= before > 0
    assert rss_mib(os.getpid()) > 1


def test_cpu_per_request_divides_and_says_minus_one_without_requests() -> None:
    assert per_request_ms(1000.0, 1500.0, 1000) == 0.5
    assert per_request_ms(1000.0, 1500.0, 0) == -1.0


def test_a_body_holding_a_lua_long_bracket_cannot_close_it_early() -> None:
    body = b'{"x": "]]", "y": "]=]"}'
    lines = script_lines(Load("http://h/", body=body))
    assert 'wrk.body = [==[{"x": "]]", "y": "]=]"}]==]' in lines


def test_the_full_matrix_has_every_server_runtime_route_model_and_load() -> None:
    cells = plan({}).cells
    assert plan({"BENCH_QUICK": "0"}).cells == cells
    assert {c.target for c in cells} == {ECHO, BASELINE, SERVICE, STACK}
    service = [c for c in cells if c.target == SERVICE]
    assert {(c.runtime, c.route) for c in service} == {
        (r, o) for r in RUNTIMES for o in ("json", V2)
    }
    for target in (BASELINE, SERVICE, STACK):
        mine = [c for c in cells if c.target == target]
        assert {c.model for c in mine} == set(MODELS)
        assert {c.connections for c in mine if c.rows == 1} == {1, 8, 64}
        assert {c.connections for c in mine if c.rows == 100} >= {8}
    assert len({c.name for c in cells}) == len(cells)


def test_the_quick_matrix_is_a_shorter_part_of_the_full_one() -> None:
    quick, full = plan({"BENCH_QUICK": "1"}), plan({})
    assert quick.quick
    assert not full.quick
    assert set(quick.cells) < set(full_cells())
    assert {c.target for c in quick.cells} == {ECHO, BASELINE, SERVICE, STACK}
    assert {c.runtime for c in quick.cells if c.target == SERVICE} == set(RUNTIMES)
    assert any(c.rows == 100 for c in quick.cells)
    assert quick.duration_s < full.duration_s
    # Under load well inside 10 minutes, leaving room for the servers' starts.
    assert quick.estimate_s() < 5 * 60
    assert full.estimate_s() < 15 * 60
    assert plan({"BENCH_QUICK": "1", "BENCH_DURATION": "7"}).duration_s == 7


def test_repeats_multiply_the_time_under_load() -> None:
    once, thrice = plan({"BENCH_QUICK": "1"}), plan({"BENCH_QUICK": "1", "BENCH_REPEAT": "3"})
    assert (once.repeats, thrice.repeats) == (1, 3)
    cells = len(once.cells)
    assert thrice.estimate_s() - once.estimate_s() == 2 * cells * once.duration_s
    assert plan({"BENCH_REPEAT": "0"}).repeats == 1


def test_bodies_are_rows_around_the_training_means_inside_the_range(tmp_path: Path) -> None:
    folder = tmp_path / "m" / "1"
    folder.mkdir(parents=True)
    stats = {"a": {"mean": 1.0, "std": 10.0, "min": 0.5, "max": 2.0}}
    manifest = {"features": [{"name": "a", "type": "float"}], "training_stats": stats}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    table = rows(tmp_path, "m", 100)
    assert len(table) == 100
    assert all(0.5 <= row["a"] <= 2.0 for row in table)
    assert json.loads(json_body(table[:1])) == {"instances": [table[0]]}
    tensor = json.loads(v2_body(table))["inputs"][0]
    assert tensor["shape"] == [100, 1]
    assert tensor["datatype"] == "FP64"
    assert len(tensor["data"]) == 100


def _result(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"route": "json", "runtime": "", "rows": 1, "p50_ms": 1.0}
    return {**base, "requests_per_s": 100.0, "cpu_ms_per_request": 1.0, **fields}


def test_the_summary_compares_the_cells_a_target_names() -> None:
    results = [
        _result(target=SERVICE, runtime="auto", model="iris", connections=1, p50_ms=0.5,
                cpu_ms_per_request=0.1),
        _result(target=SERVICE, runtime="sklearn", model="iris", connections=1,
                cpu_ms_per_request=1.5),
        _result(target=SERVICE, runtime="auto", model="iris", connections=64,
                requests_per_s=3000.0, cpu_ms_per_request=0.2),
        _result(target=SERVICE, runtime="sklearn", model="iris", connections=64,
                requests_per_s=1000.0),
        _result(target=SERVICE, runtime="auto", route=V2, model="iris", connections=64,
                requests_per_s=2700.0),
        _result(target=STACK, runtime="auto", model="iris", connections=1, p50_ms=0.7),
        _result(target=STACK, runtime="auto", model="iris", connections=64,
                cpu_ms_per_request=0.35),
        _result(target=BASELINE, model="iris", rows=100, connections=8, requests_per_s=50.0),
        _result(target=SERVICE, runtime="auto", model="iris", rows=100, connections=8,
                requests_per_s=150.0, cpu_ms_per_request=0.0),
    ]  # fmt: skip
    figures = summary(results, ["iris", "boosted"])
    assert figures["gateway_cost"] == {"added_p50_ms_c1": 0.2, "added_cpu_ms_c64": 0.15}
    assert figures["compiled_vs_sklearn"]["iris"] == {
        "cpu_x_c1": 15.0,
        "compiled_p50_ms_c1": 0.5,
        "req_s_x_c64": 3.0,
    }
    assert figures["compiled_vs_sklearn"]["boosted"] == {}
    assert figures["v2_vs_json_req_s"] == {"auto iris rows=1 c=64": 0.9}
    assert figures["rows100_vs_baseline_req_s"] == {"iris c=8": 3.0}
