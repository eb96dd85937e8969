"""The ODE comparison of the benchmark: a tolerance sweep, then the torchdiffeq layer timed against DSTD.

:func:`tolerance_sweep` finds the loosest ``rtol`` (with ``atol = rtol``) whose spike-time error
against the exact solver is at most DSTD's at ``M = 10``; :func:`run_ode_baseline` then times the
solver of :mod:`imcpnn.benchmarks.ode` at it, each case in a fresh subprocess.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import torch

from ..params import NeuronParams, SolverSettings
from .measure import run_case
from .records import CaseSpec, OdeBaselineRecord, OdeFamilyRecord, OdeSweepEntry, SpikeTimeError, ToleranceSweep
from .report import format_case
from .settings import DEFAULT_RTOLS, FLOAT64_RTOLS, BenchSettings
from .workload import BENCH_FAMILIES, BenchFamily, bench_family, make_inputs, make_weight


def spike_time_error(estimate: torch.Tensor, exact: torch.Tensor) -> SpikeTimeError:
    """Mean and max ``|t - t_exact|`` over neurons that fire in both, and the fraction that disagree on firing."""
    both = torch.isfinite(estimate) & torch.isfinite(exact)
    diff = (estimate.double() - exact.double())[both].abs()
    return SpikeTimeError(
        mean_abs=float(diff.mean()) if diff.numel() else math.nan,
        max_abs=float(diff.max()) if diff.numel() else math.nan,
        firing_mismatch=float((torch.isfinite(estimate) != torch.isfinite(exact)).double().mean()),
    )


def _exact_times(bench: BenchFamily, times: torch.Tensor, weight: torch.Tensor, params: NeuronParams) -> torch.Tensor:
    """Exact output spike times in float64, in chunks of 10 samples (memory ``O(10 N_in N_out)``)."""
    with torch.no_grad():
        chunks = [
            bench.spike_times(chunk, weight.double(), params, SolverSettings()) for chunk in times.double().split(10)
        ]
    return torch.cat(chunks)


def tolerance_sweep(
    model: str,
    times: torch.Tensor,
    weight: torch.Tensor,
    *,
    e_rev: float,
    window: float,
    target_steps: int = 10,
    rtols: Sequence[float] = DEFAULT_RTOLS,
    float64_rtols: Sequence[float] = FLOAT64_RTOLS,
    n_eval: int = 401,
    say: Callable[[str], None] = print,
) -> ToleranceSweep:
    """DSTD's spike-time error at ``target_steps`` and the ODE's for each ``rtol`` (``atol = rtol``).

    The ODE runs in the dtype of ``times`` with ``rtols``, then (if the target is not reached; float32
    stalls near ``1e-6``) in float64 with ``float64_rtols``. It stops at the first (loosest) tolerance
    whose mean error is at most DSTD's: ``chosen`` (the tightest tried, with ``reached=False``, if
    none). DSTD runs in the dtype of ``times``. Forward passes only.
    """
    bench = bench_family(model)
    params = NeuronParams.symmetric(e_rev, window=window)
    exact = _exact_times(bench, times, weight, params)
    with torch.no_grad():
        dstd = bench.spike_times(times, weight, params, SolverSettings(method="dstd", steps=target_steps))
    dstd_error = spike_time_error(dstd, exact)
    say(f"  ODE sweep {model}: DSTD M={target_steps} spike-time error {dstd_error.mean_abs:.3e} (mean abs)")
    stages = [(times.dtype, rtols)]
    if times.dtype != torch.float64:
        stages.append((torch.float64, float64_rtols))
    sweep: list[OdeSweepEntry] = []
    chosen = None
    for dtype, stage_rtols in stages:
        stage_times, stage_weight = times.to(dtype), weight.to(dtype)
        for rtol in stage_rtols:
            stats: dict[str, int] = {}
            start = time.perf_counter()
            with torch.no_grad():
                out = bench.ode_spike_times(
                    stage_times, stage_weight, params, bench.ode_options(rtol, n_eval=n_eval), stats
                )
            error = spike_time_error(out, exact)
            entry = OdeSweepEntry(
                rtol=rtol, atol=rtol, dtype=str(dtype).removeprefix("torch."), nfe=stats["nfe"],
                seconds=time.perf_counter() - start, error=error,
            )  # fmt: skip
            sweep.append(entry)
            say(f"    {entry.dtype} rtol=atol={rtol:.0e}: error {error.mean_abs:.3e}, {stats['nfe']} evaluations")
            if error.mean_abs <= dstd_error.mean_abs and error.firing_mismatch <= dstd_error.firing_mismatch:
                chosen = entry
                break
        if chosen is not None:
            break
    return ToleranceSweep(
        model=model,
        samples=times.shape[0],
        n_in=times.shape[1],
        n_out=weight.shape[0],
        target_steps=target_steps,
        dstd_error=dstd_error,
        sweep=tuple(sweep),
        chosen=chosen or sweep[-1],
        reached=chosen is not None,
        n_eval=n_eval if bench.ode_dense_output else None,
    )


def run_ode_baseline(
    settings: BenchSettings,
    *,
    say: Callable[[str], None] = print,
    on_family: Callable[[OdeBaselineRecord], None] = lambda _record: None,
) -> OdeBaselineRecord:
    """The ODE comparison of :func:`imcpnn.benchmarks.speed.run_benchmark` (sizes: ``settings.ode``).

    For each family the ODE baseline runs (:attr:`BenchFamily.ode_enabled`): a tolerance sweep in this
    process, then the ODE case and a DSTD case of the same size, each in a fresh subprocess (both
    marked ``comparison="ode"``). ``on_family`` gets the record after each family.
    """
    options = settings.ode
    n_in = settings.summary_n_in if options.n_in is None else options.n_in
    n_out = settings.n_out if options.n_out is None else options.n_out
    record = OdeBaselineRecord(n_in=n_in, n_out=n_out, samples=options.samples, adjoint=options.adjoint)
    for bench in BENCH_FAMILIES.values():
        if not bench.ode_enabled(options):
            continue
        size = bench.ode_size(options)
        family_n_out = n_out if size.n_out is None else size.n_out
        samples = options.samples if size.samples is None else size.samples
        sweep_samples = options.sweep_samples if size.sweep_samples is None else size.sweep_samples
        times = make_inputs(sweep_samples, n_in, settings, settings.seed + 7).cpu()
        weight = make_weight(bench.name, n_in, family_n_out, settings, settings.seed + 7).cpu()
        sweep = tolerance_sweep(
            bench.name,
            times,
            weight,
            e_rev=settings.e_rev,
            window=settings.ttfs_window,
            target_steps=options.target_steps,
            rtols=options.rtols,
            n_eval=options.n_eval,
            say=say,
        )
        solve = bench.ode_options(sweep.chosen.rtol, adjoint=options.adjoint, n_eval=options.n_eval)
        common = CaseSpec(model=bench.name, method="ode", n_in=n_in, n_out=family_n_out, samples=samples)
        ode_case = run_case(replace(common, ode=solve, dtype=sweep.chosen.dtype), settings)
        dstd_case = run_case(replace(common, method="dstd"), settings)
        ode_case, dstd_case = (replace(case, comparison="ode") for case in (ode_case, dstd_case))
        for case in (ode_case, dstd_case):
            say(format_case(case))
        entry = OdeFamilyRecord(sweep=sweep, timed_samples=samples, ode_case=ode_case, dstd_case=dstd_case)
        record = replace(record, models=(*record.models, entry))
        on_family(record)
    return record
