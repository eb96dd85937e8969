"""The benchmark machinery: the torchdiffeq baseline against the exact solver, the bound's work, one tiny
end-to-end run (fresh subprocesses, JSON summary) and the error figures. Timings are not asserted."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch

from imcpnn import functional as fn
from imcpnn.benchmarks import ode
from imcpnn.benchmarks.accuracy import plot_error_figures
from imcpnn.benchmarks.speed import (
    BenchSettings,
    OdeBaselineSettings,
    forward_backward,
    make_inputs,
    make_weight,
    run_benchmark,
)

SETTINGS = BenchSettings(n_ins=(30,), n_out=8, samples=6, batch=3, dtype="float64")


def test_ode_rc_spike_converges_to_exact(e_rev=2.0):
    """The generic solver's right-hand side is the same neuron: told where the inputs switch on (dopri5
    ``jump_t``) it meets the exact solver to its tolerance; not told (as benchmarked), it converges as
    the tolerance tightens, slowly, since it steps across the jumps."""
    times = make_inputs(2, 12, SETTINGS, seed=1)
    weight = make_weight("rcspike", 12, 4, SETTINGS, seed=1)
    exact = fn.rc_spike_potential(times, weight, e_rev_pos=e_rev, e_rev_neg=-e_rev)
    t_eval = torch.tensor([0.0, 1.0], dtype=torch.float64)
    told = ode._solve(ode.LayerODE(times, weight, e_rev), t_eval, 1e-9, 1e-9, False, "dopri5", times.flatten())
    torch.testing.assert_close(told[-1], exact, rtol=0, atol=1e-7)
    errors = []
    for rtol in (1e-3, 1e-5, 1e-7):
        stats: dict = {}
        spike = ode.rc_spike_times(times, weight, e_rev, rtol=rtol, atol=rtol, stats=stats)
        errors.append(float((spike - fn.rc_spike_fire(exact)).abs().max()))
    assert errors[2] < errors[1] < errors[0]
    assert errors[2] < errors[0] / 100 and errors[2] < 1e-3


def test_ode_ttfs_dense_crossing_matches_exact():
    settings = replace(SETTINGS, e_rev=2.0)
    times = make_inputs(2, 20, settings, seed=2)
    weight = make_weight("ttfs", 20, 6, settings, seed=2)
    window = settings.ttfs_window
    exact = fn.ttfs_spike_times(times, weight, e_rev_pos=2.0, e_rev_neg=-2.0, window=window)
    t_eval = torch.linspace(0.0, window, 1001, dtype=torch.float64)
    func = ode.LayerODE(times, weight, 2.0)
    potentials = ode._solve(func, t_eval, 1e-8, 1e-8, False, "dopri5", times.flatten())
    integrated = ode.first_crossing_dense(potentials, t_eval)
    assert torch.equal(torch.isfinite(integrated), torch.isfinite(exact))
    assert torch.isfinite(exact).any()
    both = torch.isfinite(exact)
    # Linear interpolation between samples 4e-3 apart: error O(step^2 v'' / v') well below 1e-4.
    torch.testing.assert_close(integrated[both], exact[both], rtol=0, atol=1e-4)
    coarse = ode.ttfs_spike_times(times, weight, 2.0, window, rtol=1e-5, atol=1e-5, n_eval=401)
    assert (coarse[both] - exact[both]).abs().max() < 1e-2


def test_first_crossing_dense_interpolates_and_marks_silent():
    t_eval = torch.linspace(0.0, 1.0, 3, dtype=torch.float64)
    potentials = torch.tensor([[[0.0, 0.0]], [[0.5, 0.2]], [[1.5, 0.4]]], dtype=torch.float64)  # [T, B, N]
    crossing = ode.first_crossing_dense(potentials, t_eval)
    assert crossing[0, 0].item() == pytest.approx(0.75)
    assert math.isinf(crossing[0, 1].item())


@pytest.mark.parametrize("model", ["rcspike", "ttfs"])
def test_forward_backward_gives_finite_gradients(model):
    times = make_inputs(3, 30, SETTINGS, seed=0)
    weight = make_weight(model, 30, 8, SETTINGS, seed=0)
    for method in ("exact", "dstd"):
        out = forward_backward(model, method, times, weight, SETTINGS)
        assert out.shape == (3, 8)
    if model == "ttfs":  # the initialisation makes the mean drive fire inside the window
        assert torch.isfinite(out).float().mean() > 0.5


def test_tiny_run_writes_every_case_and_the_summary(tmp_path):
    settings = replace(
        SETTINGS,
        n_ins=(30,),
        summary_n_in=30,
        bound_repeats=1,
        threads=1,
        ode=OdeBaselineSettings(samples=4, n_out=8, sweep_samples=4, rtols=(1e-1, 1e-3, 1e-5), n_eval=201),
    )
    path = tmp_path / "bench.json"
    result = run_benchmark(settings, json_path=path, progress=None).to_dict()
    saved = json.loads(path.read_text())
    assert saved["summary"] == result["summary"]
    cases = [c for c in saved["cases"] if c.get("comparison") is None]
    expected = {(model, method) for model in ("rcspike", "ttfs") for method in ("exact", "dstd")}
    assert {(c["model"], c["method"]) for c in cases} >= expected
    for case in saved["cases"]:
        assert case["status"] == "ok", case
        assert case["seconds"] > 0 and case["peak_bytes"] is not None
        assert {"model", "method", "n_in", "steps", "seconds", "peak_bytes"} <= set(case)
    summary = saved["summary"]
    ratios = ("rcspike_time_ratio", "rcspike_memory_ratio", "ttfs_time_ratio", "ttfs_memory_ratio", "dstd_over_bound")
    for key in ratios:
        assert summary[key] is not None and summary[key] > 0, key
    rcspike = saved["ode"]["models"]["rcspike"]
    assert rcspike["reached"], rcspike["sweep"]
    assert rcspike["chosen_error"]["mean_abs"] <= rcspike["dstd_error"]["mean_abs"]
    assert saved["summary"]["rcspike_ode_time_ratio"] > 0
    ttfs_errors = [entry["mean_abs"] for entry in saved["ode"]["models"]["ttfs"]["sweep"]]
    assert ttfs_errors[-1] < ttfs_errors[0]


def test_error_figures_show_the_expected_trends(tmp_path):
    figures = plot_error_figures(
        tmp_path,
        e_revs=(1.0, 10.0, 100.0),
        steps=(4, 8, 16),
        curves_vs_steps=(1.0, 10.0),
        curves_vs_e_rev=(8,),
        batch=8,
        n_in=200,
        n_out=10,
    )
    assert figures["error_vs_steps"].exists() and figures["error_vs_erev"].exists()
    errors = json.loads((tmp_path / "end_potential_errors.json").read_text())["errors"]
    assert set(errors) == {"1", "10", "100"}
    for row in errors.values():
        assert row["16"] < row["8"] < row["4"]  # the error falls with M
    assert errors["100"]["16"] < errors["10"]["16"] < errors["1"]["16"]  # and with |E±|


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--samples", "0"], "--samples must be a positive integer"),
        (["--batch", "-3"], "--batch must be a positive integer"),
        (["--max-case-seconds", "0"], "--max-case-seconds must be positive"),
    ],
)
def test_bench_command_rejects_bad_settings(argv, message, capsys):
    from imcpnn.cli.main import main

    assert main(["bench", *argv]) == 2
    assert message in capsys.readouterr().err
