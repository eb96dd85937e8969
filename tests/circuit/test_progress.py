"""The comparison's simulation budget: the scale search's cap, the bound it gives, and the progress/ETA
over the simulations (issue 14: `compare --samples 3` ran 34 minutes without saying how long it would take)."""

from __future__ import annotations

import numpy as np
import pytest

from imcpnn.circuit.compare import QUICK_SEARCH, _simulation_plan
from imcpnn.circuit.flows import Flow
from imcpnn.circuit.jobs import SampleResult
from imcpnn.circuit.progress import SimulationProgress
from imcpnn.circuit.scale_search import ScaleSearchOptions, coarse_to_fine_search


def _bowl(target, calls):
    mixing = np.array([[1.0, -0.4], [0.3, 0.8], [0.5, 0.5], [-0.2, 1.0]])

    def residual_fn(points):
        calls.extend(points)
        return {p: mixing @ (np.array(p) - np.array(target)) + 0.001 * np.sin(7 * p[0]) for p in points}

    return residual_fn


@pytest.mark.parametrize("two_dimensional", [False, True])
@pytest.mark.parametrize("cap", [1, 3, 6])
def test_the_cap_bounds_the_points_evaluated_and_the_best_of_them_is_taken(two_dimensional, cap):
    """A far optimum makes the 1 % grid descent walk; the cap stops it."""
    calls: list = []
    target = (0.55, 1.40) if two_dimensional else (0.55, 0.55)
    best, rmse = coarse_to_fine_search(
        _bowl(target, calls), start=1.0, two_dimensional=two_dimensional, max_evaluations=cap
    )
    assert len(calls) == len(set(calls)) == len(rmse) <= cap
    assert rmse[best] == min(rmse.values())


def test_without_the_cap_reached_the_search_is_unchanged():
    calls_free: list = []
    calls_capped: list = []
    free = coarse_to_fine_search(_bowl((0.83, 1.12), calls_free), start=1.0, two_dimensional=True)
    capped = coarse_to_fine_search(
        _bowl((0.83, 1.12), calls_capped), start=1.0, two_dimensional=True, max_evaluations=len(calls_free) + 1
    )
    assert free[0] == capped[0] and calls_free == calls_capped


@pytest.mark.parametrize("two_dimensional", [False, True])
def test_the_search_never_exceeds_its_bound(two_dimensional):
    for options in (QUICK_SEARCH, ScaleSearchOptions(), ScaleSearchOptions(fine=False, newton_steps=4)):
        calls: list = []
        coarse_to_fine_search(
            _bowl((0.55, 1.4), calls), start=1.0, two_dimensional=two_dimensional, probe=options.probe,
            max_newton_steps=options.newton_steps, fine=options.fine, max_evaluations=options.max_evaluations,
        )  # fmt: skip
        assert len(calls) <= options.evaluation_bound(two_dimensional)


def test_bounds():
    # the quick search: start + 2 steps x (one probe per axis + a candidate)
    assert QUICK_SEARCH.evaluation_bound(True) == 7 and QUICK_SEARCH.evaluation_bound(False) == 5
    assert ScaleSearchOptions().evaluation_bound(True) == 40
    assert ScaleSearchOptions(max_evaluations=None).evaluation_bound(True) is None
    assert ScaleSearchOptions(max_evaluations=None, fine=False, newton_steps=1).evaluation_bound(False) == 3
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="max_evaluations"):
            ScaleSearchOptions(max_evaluations=bad)


def test_the_plan_says_how_many_simulations_at_most():
    weights = (np.zeros((5, 5)), np.zeros((5, 5)))
    flows = (Flow("ann_to_imc", weights, None, True), Flow("pnn_to_imc", weights, None, False))
    # the quick compare: 3 test samples per flow, 7 x 2 and 5 x 2 calibration runs = 30
    assert _simulation_plan(flows, QUICK_SEARCH, 2, 3).startswith("at most 30 simulations")
    fixed = ScaleSearchOptions(fixed_scales={"pnn_to_imc": (0.9, 0.9)}, max_evaluations=None)
    assert _simulation_plan(flows, fixed, 10, 50).startswith("at least 100 simulations")


def test_progress_counts_against_the_plan_and_logs_tenths():
    lines: list[str] = []
    progress = SimulationProgress(lines.append, bar=False)
    progress.plan(20)
    progress.reused(4)  # taken from the folder's cache
    assert progress.done == 4 and progress.simulated == 0 and progress.eta_s is None
    for k in range(6):
        progress.finished(SampleResult(f"k{k}", k != 2, []))
    assert (progress.done, progress.simulated, progress.failed) == (10, 6, 1)
    assert progress.eta_s is not None and progress.eta_s > 0
    assert lines and "10/20 simulations" in lines[-1] and "1 failed" in lines[-1] and "left" in lines[-1]
    progress.settle(10)  # a search ended before its bound: nothing left
    assert progress.planned == 10 and progress.eta_s == 0
    progress.settle(50)  # never below what is done
    assert progress.planned == 10
    progress.finished(SampleResult("extra", True, []))  # an uncapped search runs more than planned
    assert progress.planned == progress.done == 11
    progress.close()
