"""The benchmark's typed settings and records keep the JSON of the ``--json`` file; its modules form no cycle."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import imcpnn.benchmarks
from imcpnn.benchmarks.records import BoundRecord, BoundSpec, CaseRecord, CaseSpec, OdeSolveOptions
from imcpnn.benchmarks.report import summarise
from imcpnn.benchmarks.settings import BenchSettings, OdeBaselineSettings, quick_settings
from imcpnn.benchmarks.workload import BENCH_FAMILIES
from imcpnn.families import FAMILIES


def test_settings_round_trip_and_keep_their_json():
    assert BenchSettings().to_dict()["ode"] == {"ttfs_n_out": 100, "ttfs_samples": 100, "ttfs_sweep_samples": 10}
    quick = quick_settings()
    assert quick.to_dict()["ode"] == {"samples": 100, "n_out": 100, "sweep_samples": 20, "ttfs": False}
    assert json.loads(json.dumps(quick.to_dict()))["n_ins"] == [1000]
    for settings in (BenchSettings(), quick, BenchSettings(ode={"adjoint": True}, n_ins=[30])):
        assert BenchSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
    assert BenchSettings(ode={"adjoint": True}).ode == OdeBaselineSettings(adjoint=True)


def test_case_and_bound_records_round_trip_through_json():
    ode = OdeSolveOptions(rtol=1e-3, atol=1e-3, n_eval=401)
    spec = CaseSpec("ttfs", "ode", 30, n_out=8, samples=4, dtype="float64", ode=ode)
    assert CaseSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    case = CaseRecord(
        model="ttfs", method="ode", n_in=30, n_out=8, seconds=1.0, peak_bytes=10, samples=4, samples_measured=4,
        extrapolated=False, batch=2, batch_seconds_min=0.4, batch_seconds_median=0.5, fired_fraction=1.0,
        dtype="float64", threads=1, load_average=(1.0, 2.0, 3.0), peak_reset=True, ode=ode, nfe_forward=(5, 6),
    )  # fmt: skip
    as_json = json.loads(json.dumps(case.to_dict()))
    assert CaseRecord.from_dict(as_json) == case
    assert as_json["ode"] == {"rtol": 1e-3, "atol": 1e-3, "adjoint": False, "n_eval": 401}
    assert list(as_json)[-3:] == ["status", "ode", "nfe_forward"]
    failed = CaseRecord.failed(CaseSpec("rcspike", "exact", 30), "timed out")
    assert list(failed.to_dict()) == ["model", "method", "n_in", "seconds", "peak_bytes", "status", "reason"]
    skipped = CaseRecord.skipped(CaseSpec("rcspike", "exact", 30), 8, "no memory").to_dict()
    assert skipped["n_out"] == 8 and skipped["steps"] is None and skipped["status"] == "skipped"
    bound = BoundRecord.failed(BoundSpec("ttfs", 30), "exit status 1").to_dict()
    assert bound == {"model": "ttfs", "n_in": 30, "seconds": None, "peak_bytes": None, "status": "failed",
                     "reason": "exit status 1"}  # fmt: skip


def test_summary_keys():
    keys = list(summarise([], [], None, n_in=30).to_dict())
    assert keys == [
        "n_in", "rcspike_time_ratio", "rcspike_memory_ratio", "ttfs_time_ratio", "ttfs_memory_ratio",
        "dstd_over_bound", "dstd_over_fused_bound", "ttfs_dstd_over_bound", "ttfs_dstd_over_fused_bound",
    ]  # fmt: skip


def test_every_benchmarked_family_is_a_registered_one():
    assert list(BENCH_FAMILIES) == ["rcspike", "ttfs"]
    for name, bench in BENCH_FAMILIES.items():
        assert bench.family is FAMILIES[name]


def test_the_benchmark_modules_import_no_cycle():
    """Every import inside imcpnn.benchmarks, function-local ones too, points down a partial order."""
    folder = Path(imcpnn.benchmarks.__file__).parent
    names = {path.stem for path in folder.glob("*.py")} - {"__init__"}
    graph: dict[str, set[str]] = {}
    for name in names:
        tree = ast.parse((folder / f"{name}.py").read_text())
        deps: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module} if node.module else {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("imcpnn.benchmarks."):
                deps.add(node.module.removeprefix("imcpnn.benchmarks."))
        graph[name] = deps & names
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import cycle: {' -> '.join((*path, name))}"
        if name not in done:
            for dep in graph[name]:
                visit(dep, (*path, name))
            done.add(name)

    for name in sorted(names):
        visit(name, ())
