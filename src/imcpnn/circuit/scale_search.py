"""The current-scale search of the comparison (CIRCUIT.md, "Model ↔ circuit flow", step 5).

Parasitics change the effective capacitance, so the mapped currents are scaled: ANN-to-IMC by
``(a+, a-)`` (2-D, it must also absorb the reversal potentials), PNN-to-IMC by one global ``a``,
both on the 1 % grid, minimising the output spike-time RMSE on calibration samples.

Coarse-to-fine, instead of the paper's exhaustive 1 % grid, to save simulations: it starts at
``a = C_eff / C_m`` (the measured effective membrane capacitance over the mapping's 140 fF: the
parasitic correction the scale is meant to absorb). Coarse: Gauss-Newton steps on the output
spike-time residuals, the Jacobian from 2 % finite-difference probes per scale axis, moves capped
at 15 % and rounded to the 1 % grid, while they improve the RMSE (at most 4). Fine: descent on the
1 % grid (axis neighbours, then diagonal ones in 2-D) until no neighbour improves, so the result is
a local optimum of the 1 % grid. About 5-7 evaluations in 1-D and 15-20 in 2-D, each simulating the
calibration samples in parallel; every evaluation is cached by scale in ``calibration_<flow>.jsonl``,
so a rerun resumes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .characterization import Characterization
from .config import CircuitConfig
from .flows import Flow
from .model import clip_times, model_spike_times
from .progress import SimulationProgress
from .runner import SampleJob, SampleResult, run_samples

PROBE_STEP = 0.02  # finite-difference step of the Gauss-Newton scale search
MAX_NEWTON_STEP = 0.15  # largest Gauss-Newton move of a scale per iteration
MIN_SCALE, MAX_SCALE = 0.2, 3.0
#: The default cap on the scale points one flow's search evaluates: the full search takes about 5-7 in 1-D
#: and 15-20 in 2-D, so the cap only stops a descent that wanders (each point is n_calibration simulations).
DEFAULT_MAX_EVALUATIONS = 40

#: A current-scale point ``(a+, a-)``; a 1-D flow has ``a+ == a-``.
Point = tuple[float, float]


@dataclass(frozen=True)
class ScaleSearchOptions:
    """How :func:`~imcpnn.circuit.compare.compare` finds each flow's current scale.

    ``fixed_scales`` skips the search for the flows it names (``{"pnn_to_imc": (a, a)}``);
    ``fine=False`` stops after the Gauss-Newton phase of at most ``newton_steps`` steps (the demo's
    quick comparison); ``probe`` is the finite-difference step; ``max_evaluations`` caps the scale
    points a flow's search evaluates (each point simulates every calibration sample; the best point
    so far is taken when the cap is reached; None: no cap). :meth:`evaluation_bound` is the most a
    search can evaluate, which with the calibration samples bounds its simulations.
    """

    fixed_scales: Mapping[str, Point] = field(default_factory=dict)
    fine: bool = True
    newton_steps: int = 4
    probe: float = PROBE_STEP
    max_evaluations: int | None = DEFAULT_MAX_EVALUATIONS

    def evaluation_bound(self, two_dimensional: bool) -> int | None:
        """The most scale points one flow's search evaluates: the cap, or without the fine descent the
        Gauss-Newton phase's own bound (the start, then per step one probe per axis and a candidate);
        None when neither bounds it."""
        newton = 1 + self.newton_steps * ((2 if two_dimensional else 1) + 1)
        bounds = [b for b in (self.max_evaluations, None if self.fine else newton) if b is not None]
        return min(bounds) if bounds else None

    def __post_init__(self) -> None:
        fixed = {}
        for name, scales in (self.fixed_scales or {}).items():
            try:
                a_pos, a_neg = (float(value) for value in scales)
            except (TypeError, ValueError):
                raise ValueError(f"fixed_scales[{name!r}] must be a pair (a+, a-) of numbers; got {scales!r}") from None
            if not all(math.isfinite(a) and a > 0 for a in (a_pos, a_neg)):
                raise ValueError(
                    f"fixed_scales[{name!r}] must be finite current scales > 0 (1.0: the mapped currents unscaled); "
                    f"got {scales!r}"
                )
            fixed[name] = (a_pos, a_neg)
        object.__setattr__(self, "fixed_scales", fixed)
        if self.newton_steps < 0:
            raise ValueError(f"newton_steps must be >= 0; got {self.newton_steps}")
        cap = self.max_evaluations
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ValueError(f"max_evaluations must be an integer >= 1 or None (no cap); got {self.max_evaluations!r}")
        if not self.probe > 0:
            raise ValueError(f"probe must be > 0 (a relative scale step); got {self.probe}")


@dataclass(frozen=True)
class SearchEvaluation:
    """One evaluated scale of a search: the calibration RMSE (ns; None when nothing was simulated), the
    failed samples, or the error that made the point infeasible (a current outside the tables)."""

    a_pos: float
    a_neg: float
    rmse_ns: float | None
    failed: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"a_pos": self.a_pos, "a_neg": self.a_neg, "rmse_ns": self.rmse_ns}
        if self.error is not None:
            row["error"] = self.error
        else:
            row["failed"] = self.failed
        return row

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchEvaluation:
        return cls(data["a_pos"], data["a_neg"], data.get("rmse_ns"), data.get("failed"), data.get("error"))


def coarse_to_fine_search(
    residual_fn: Callable[[list[Point]], dict[Point, np.ndarray | None]],
    *,
    start: float,
    two_dimensional: bool,
    probe: float = PROBE_STEP,
    max_newton_steps: int = 4,
    fine: bool = True,
    max_evaluations: int | None = None,
) -> tuple[Point, dict[Point, float]]:
    """The scale search of the module doc, on any residual function.

    ``residual_fn(points)`` returns, per ``(a+, a-)`` point, the residual vector (circuit minus
    model spike times; NaN where a sample failed) or None where the point is infeasible. Returns
    the best point on the 1 % grid and the RMSE (in residual units) of every point evaluated.
    ``fine=False`` stops after the Gauss-Newton phase (the quick comparison of the demo): the best
    point evaluated, on the 1 % grid but not necessarily a local optimum of it. ``max_evaluations``
    stops the search once that many points are evaluated (the best of them is returned).
    """
    residuals: dict[Point, np.ndarray] = {}
    rmse: dict[Point, float] = {}

    def snap(point: tuple[float, float]) -> Point:
        a_pos = round(min(MAX_SCALE, max(MIN_SCALE, float(point[0]))), 2)
        a_neg = round(min(MAX_SCALE, max(MIN_SCALE, float(point[1]))), 2) if two_dimensional else a_pos
        return (a_pos, a_neg)

    def exhausted() -> bool:
        return max_evaluations is not None and len(rmse) >= max_evaluations

    def evaluate(points: list[Point]) -> None:
        todo = [p for p in dict.fromkeys(points) if p not in rmse]
        if max_evaluations is not None:
            todo = todo[: max(0, max_evaluations - len(rmse))]
        if not todo:
            return
        for point, residual in residual_fn(todo).items():
            finite = None if residual is None else np.asarray(residual, dtype=float)
            if finite is None or not np.isfinite(finite).any():
                rmse[point] = math.inf
                continue
            residuals[point] = finite
            rmse[point] = float(np.sqrt(np.nanmean(finite**2)))

    axes = [(1.0, 0.0), (0.0, 1.0)] if two_dimensional else [(1.0, 1.0)]
    center = snap((start, start))
    evaluate([center])
    for _ in range(max_newton_steps):
        probes = [snap((center[0] + probe * dx, center[1] + probe * dy)) for dx, dy in axes]
        evaluate(probes)
        if center not in residuals or any(p not in residuals or p == center for p in probes) or exhausted():
            break
        base = residuals[center].ravel()
        jacobian = np.stack([(residuals[p].ravel() - base) / probe for p in probes], axis=1)
        rows = np.isfinite(jacobian).all(axis=1) & np.isfinite(base)
        if rows.sum() < len(axes):
            break
        step, *_ = np.linalg.lstsq(jacobian[rows], -base[rows], rcond=None)
        step = np.clip(step, -MAX_NEWTON_STEP, MAX_NEWTON_STEP)
        move = sum((value * np.array(axis) for axis, value in zip(axes, step, strict=True)), np.zeros(2))
        candidate = snap((center[0] + move[0], center[1] + move[1]))
        evaluate([candidate])
        best = min((p for p in [center, candidate, *probes] if p in rmse), key=lambda p: rmse[p])
        if best == center:
            break
        center = best
    if not fine or exhausted():
        return min(rmse, key=lambda p: rmse[p]), rmse
    # 1 % grid descent: the axis neighbours, then (2-D) the diagonal ones, until none improves
    groups = [[(-1, 0), (1, 0), (0, -1), (0, 1)], [(-1, -1), (-1, 1), (1, -1), (1, 1)]]
    if not two_dimensional:
        groups = [[(-1, 0), (1, 0)]]
    improved = True
    while improved and not exhausted():
        improved = False
        for group in groups:
            neighbours = [
                p
                for p in dict.fromkeys(snap((center[0] + 0.01 * dx, center[1] + 0.01 * dy)) for dx, dy in group)
                if p != center
            ]
            if not neighbours:
                continue
            evaluate(neighbours)
            evaluated = [p for p in neighbours if p in rmse]
            if not evaluated:
                break
            best = min(evaluated, key=lambda p: rmse[p])
            if rmse[best] < rmse[center]:
                center, improved = best, True
                break
    if exhausted():  # stopped by the cap: the best point evaluated
        return min(rmse, key=lambda p: rmse[p]), rmse
    return center, rmse


def scale_key(scales: Point) -> str:
    """The part of a job key that names its scale point."""
    return f"p{scales[0]:.2f}_n{scales[1]:.2f}"


def search_scale(
    flow: Flow,
    calibration_times: np.ndarray,
    characterization: Characterization,
    config: CircuitConfig,
    run_dir: Path,
    *,
    start: float = 1.0,
    workers: int | None = None,
    timeout_s: float = 300.0,
    options: ScaleSearchOptions | None = None,
    progress: SimulationProgress | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Point, tuple[SearchEvaluation, ...]]:
    """Search the current scale(s) of ``flow`` on the calibration samples (module doc).

    Returns the best ``(a+, a-)`` (equal for a 1-D flow) and the evaluation history (RMSE in ns).
    ``options.fine=False``: the Gauss-Newton phase only, of at most ``options.newton_steps`` steps
    (:func:`coarse_to_fine_search`). ``progress`` counts the search's simulations; the caller plans the
    search's bound (:meth:`ScaleSearchOptions.evaluation_bound` points x the calibration samples: what
    :func:`~imcpnn.circuit.compare.compare` does for every flow before the first one starts, so that its
    ETA covers the whole run), and the search settles what it did not run when it ends.
    """
    options = options or ScaleSearchOptions()
    bound = options.evaluation_bound(flow.two_dimensional)
    model_output = clip_times(model_spike_times(flow.weights, calibration_times, flow.params)[-1])
    history: list[SearchEvaluation] = []
    failures: list[SampleResult] = []
    results_path = run_dir / f"calibration_{flow.name}.jsonl"
    ns = config.t_circ * 1e9

    def residual_fn(points: list[Point]) -> dict[Point, np.ndarray | None]:
        out: dict[Point, np.ndarray | None] = {}
        jobs: list[SampleJob] = []
        for point in points:
            try:
                jobs += flow.jobs(point, calibration_times, characterization, config,
                                  f"{flow.name}_{scale_key(point)}_cal")  # fmt: skip
            except ValueError as error:  # a current outside the characterised table
                out[point] = None
                history.append(SearchEvaluation(point[0], point[1], None, error=str(error)))
        results = (
            run_samples(
                jobs, config, results_path=results_path, workers=workers, timeout_s=timeout_s, keep_waveforms=False,
                progress=progress, log=log,
            )
            if jobs
            else {}
        )  # fmt: skip
        for point in points:
            if point in out:
                continue
            prefix = f"{flow.name}_{scale_key(point)}_cal"
            rows = []
            for k in range(len(calibration_times)):
                result = results[f"{prefix}{k:03d}"]
                if not result.ok:
                    failures.append(result)
                circuit = (
                    clip_times(np.asarray(result.spike_times[-1], dtype=float))
                    if result.ok
                    else np.full(model_output.shape[1], np.nan)
                )
                rows.append((circuit - model_output[k]) * ns)
            residual = np.array(rows)
            out[point] = residual
            failed = int(np.isnan(residual[:, 0]).sum())
            finite = residual[np.isfinite(residual)]
            value = float(np.sqrt(np.mean(finite**2))) if finite.size else None
            history.append(SearchEvaluation(point[0], point[1], value, failed=failed))
            log(
                f"  {flow.name}: a+={point[0]:.2f} a-={point[1]:.2f} -> RMSE "
                + (f"{value:.2f} ns" if value is not None else "n/a")
                + (f" ({failed} failed)" if failed else "")
            )
        return out

    best, _ = coarse_to_fine_search(
        residual_fn, start=start, two_dimensional=flow.two_dimensional, probe=options.probe,
        max_newton_steps=options.newton_steps, fine=options.fine, max_evaluations=options.max_evaluations,
    )  # fmt: skip
    if progress is not None and bound is not None:
        # the points never evaluated, and those that were infeasible (no simulation), will not run
        simulated_points = sum(1 for e in history if e.error is None)
        progress.settle((bound - simulated_points) * len(calibration_times))
    if failures and all(e.rmse_ns is None for e in history):
        causes: dict[str, int] = {}
        for failure in failures:
            causes[failure.cause] = causes.get(failure.cause, 0) + 1
        raise RuntimeError(
            f"{flow.name}: every calibration simulation of the scale search failed "
            f"({', '.join(f'{c} x{n}' for c, n in causes.items())}); the first:\n{failures[0].message}\n"
            "Fix the cause and rerun with the same folder: crashed runs and unreadable output are simulated "
            "again, timeouts under a longer --timeout"
        )
    return best, tuple(history)
