"""DSTD against the Norse peer at equal end-potential error (spec ``MODEL.md`` sections 2, 4; the peer in
:mod:`imcpnn.benchmarks.peer_norse`).

:func:`time_step_sweep` finds the largest Euler step ``dt = 1/K`` whose mean end-potential error
against the exact solver is at most DSTD's at ``M = 10`` (coarse to fine over ``candidate_steps``, then
a bisection over the integers ``K`` between the last miss and the first hit); :func:`run_norse_peer`
then times forward + backward of Norse at that ``dt`` and of DSTD at ``M = 10`` on the benchmark's
workload, each case in a fresh subprocess (:mod:`imcpnn.benchmarks.measure`), as
:mod:`imcpnn.benchmarks.ode_baseline` does for torchdiffeq.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch

from .. import functional as fn
from ..params import NeuronParams
from .measure import run_case
from .peer_norse import NorseCaseSpec, coba_lif_module, norse_end_potential, norse_version, run_norse_case
from .peer_norse_records import EndPotentialError, EulerSweepEntry, NorsePeerRecord, TimeStepSweep
from .records import CaseRecord, CaseSpec
from .report import machine_description
from .settings import BenchSettings
from .workload import make_inputs, make_weight

#: Euler steps per unit window (``dt = 1/K``) tried by the sweep, coarsest first.
DEFAULT_EULER_STEPS = (10, 20, 30, 50, 100, 200, 300, 500, 1000, 2000, 3000, 5000, 10000)


@dataclass(frozen=True)
class NorsePeerSettings:
    """What the Norse comparison measures: the layer ``n_in`` x ``bench.n_out`` (``E± = ±bench.e_rev``, the
    benchmark's data, dtype, batch, samples, threads and device), ``sweep_samples`` samples for the dt
    sweep, DSTD's ``target_steps`` and the candidate Euler steps; ``refine``: bisect between them."""

    bench: BenchSettings = field(default_factory=BenchSettings)
    n_in: int = 1000
    sweep_samples: int = 50
    target_steps: int = 10
    candidate_steps: tuple[int, ...] = DEFAULT_EULER_STEPS
    refine: bool = True


def end_potential_error(estimate: torch.Tensor, exact: torch.Tensor) -> EndPotentialError:
    """Mean and max ``|v - v_exact|``: the measure of :func:`imcpnn.benchmarks.accuracy.end_potential_errors`."""
    diff = (estimate.double() - exact.double()).abs()
    return EndPotentialError(mean_abs=float(diff.mean()), max_abs=float(diff.max()))


def exact_end_potential(times: torch.Tensor, weight: torch.Tensor, params: NeuronParams) -> torch.Tensor:
    """Exact ``v(1)`` in float64, in chunks of 10 samples (memory ``O(10 N_in N_out)``)."""
    kw = {"e_rev_pos": params.e_rev_pos, "e_rev_neg": params.e_rev_neg, "leak": params.leak}
    with torch.no_grad():
        return torch.cat([fn.rc_spike_potential(chunk, weight.double(), **kw) for chunk in times.double().split(10)])


def pick_time_step(entries: Iterable[EulerSweepEntry], target: float) -> EulerSweepEntry | None:
    """The entry of the largest ``dt`` whose mean end-potential error is at most ``target`` (``None`` if none)."""
    reached = [entry for entry in entries if entry.error.mean_abs <= target]
    return min(reached, key=lambda entry: entry.steps, default=None)


def time_step_sweep(
    times: torch.Tensor,
    weight: torch.Tensor,
    params: NeuronParams,
    *,
    target_steps: int = 10,
    candidate_steps: Sequence[int] = DEFAULT_EULER_STEPS,
    refine: bool = True,
    say: Callable[[str], None] = print,
) -> TimeStepSweep:
    """DSTD's end-potential error at ``target_steps`` and the Norse peer's for each Euler step count.

    Forward passes in the dtype of ``times`` against the exact solver in float64. Stops at the first
    (coarsest) candidate that reaches DSTD's mean error; with ``refine``, bisects the integers between
    it and the candidate before. ``chosen``: :func:`pick_time_step` (the finest tried if none reached).
    """
    coba_lif_module()  # fail early, with the install hint
    exact = exact_end_potential(times, weight, params)
    kw = {"e_rev_pos": params.e_rev_pos, "e_rev_neg": params.e_rev_neg, "leak": params.leak}
    with torch.no_grad():
        dstd = fn.rc_spike_potential(times, weight, method="dstd", steps=target_steps, **kw)
    target = end_potential_error(dstd, exact)
    say(f"  Norse dt sweep: DSTD M={target_steps} end-potential error {target.mean_abs:.3e} (mean abs)")
    entries: dict[int, EulerSweepEntry] = {}

    def reaches(steps: int) -> bool:
        start = time.perf_counter()
        with torch.no_grad():
            error = end_potential_error(norse_end_potential(times, weight, params, steps), exact)
        entries[steps] = EulerSweepEntry(steps=steps, error=error, seconds=time.perf_counter() - start)
        say(f"    dt = 1/{steps}: error {error.mean_abs:.3e} (max {error.max_abs:.3e})")
        return error.mean_abs <= target.mean_abs

    missed = None
    for steps in sorted(candidate_steps):
        if reaches(steps):
            if refine and missed is not None:
                low, high = missed, steps  # low misses, high reaches
                while high - low > 1:
                    middle = (low + high) // 2
                    low, high = (low, middle) if reaches(middle) else (middle, high)
            break
        missed = steps
    sweep = tuple(sorted(entries.values(), key=lambda entry: entry.steps))
    chosen = pick_time_step(sweep, target.mean_abs)
    return TimeStepSweep(
        samples=times.shape[0], n_in=times.shape[1], n_out=weight.shape[0], e_rev=params.e_rev_pos,
        dtype=str(times.dtype).removeprefix("torch."), target_steps=target_steps, dstd_error=target, sweep=sweep,
        chosen=chosen or sweep[-1], reached=chosen is not None,
    )  # fmt: skip


def run_norse_peer(settings: NorsePeerSettings, *, say: Callable[[str], None] = print) -> NorsePeerRecord:
    """The dt sweep in this process (on ``sweep_samples`` samples, seed + 7 as the ODE baseline's), then
    Norse at the chosen dt and DSTD at ``M = target_steps``, forward + backward, each in a fresh subprocess."""
    started = time.perf_counter()
    bench = settings.bench
    if bench.rc_steps != settings.target_steps:
        raise ValueError(f"DSTD's timed M ({bench.rc_steps}) must be the sweep's target M ({settings.target_steps})")
    if bench.threads:
        torch.set_num_threads(bench.threads)
    sweep_samples = min(settings.sweep_samples, bench.samples)
    times = make_inputs(sweep_samples, settings.n_in, bench, bench.seed + 7)
    weight = make_weight("rcspike", settings.n_in, bench.n_out, bench, bench.seed + 7)
    sweep = time_step_sweep(
        times, weight, bench.params, target_steps=settings.target_steps, candidate_steps=settings.candidate_steps,
        refine=settings.refine, say=say,
    )  # fmt: skip
    if not sweep.reached:
        say(f"  no dt reached DSTD's error; timing the finest tried, dt = 1/{sweep.chosen.steps}")
    norse_case = run_norse_case(NorseCaseSpec(n_in=settings.n_in, steps=sweep.chosen.steps), bench)
    say(format_peer_case(norse_case, f"Norse dt=1/{sweep.chosen.steps}"))
    dstd_case = run_case(CaseSpec(model="rcspike", method="dstd", n_in=settings.n_in), bench)
    say(format_peer_case(dstd_case, f"DSTD M={settings.target_steps}"))
    return NorsePeerRecord(
        machine=machine_description(bench.device), settings=bench, norse_version=norse_version(), sweep=sweep,
        norse_case=norse_case, dstd_case=dstd_case, wall_seconds=time.perf_counter() - started,
    )  # fmt: skip


def _ms_per_batch(case: CaseRecord) -> float | None:
    if not case.ok:
        return None
    return 1000.0 * case.seconds * case.batch / case.samples


def format_peer_case(case: CaseRecord, label: str) -> str:
    """One progress line: the case's time per batch and peak memory, or why it has none."""
    if not case.ok:
        return f"  {label}: {case.status} ({case.reason})"
    return f"  {label}: {_ms_per_batch(case):.1f} ms per batch of {case.batch}, peak {case.peak_bytes / 2**20:.1f} MiB"


def format_peer_table(record: NorsePeerRecord) -> str:
    """The comparison as a markdown table: dt (or M), end-potential error, ms per batch, peak MiB, ratios."""
    sweep, dstd, norse = record.sweep, record.dstd_case, record.norse_case

    def cells(case: CaseRecord) -> str:
        ms = _ms_per_batch(case)
        if ms is None:
            return f"{case.status} | {case.status}"
        return f"{ms:.1f} | {case.peak_bytes / 2**20:.1f}"

    ratio_time = "n/a" if record.time_ratio is None else f"{record.time_ratio:.1f}x"
    ratio_memory = "n/a" if record.memory_ratio is None else f"{record.memory_ratio:.1f}x"
    reached = "" if sweep.reached else " (not reached)"
    batch = record.settings.batch
    lines = [
        f"Norse coba_lif peer vs DSTD, RC-Spike accumulation, {sweep.n_in} inputs x {record.settings.n_out} neurons, "
        f"batch {batch}, {record.settings.samples} samples, forward + backward, {record.settings.dtype}, |E±| = "
        f"{sweep.e_rev:g}; errors: mean |v(1) - v_exact(1)| on {sweep.samples} samples",
        "",
        "| solver | dt | error | DSTD error | ms per batch | peak MiB | time ratio | memory ratio |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| Norse coba_lif (Euler) | 1/{sweep.chosen.steps}{reached} | {sweep.chosen.error.mean_abs:.3e} | "
        f"{sweep.dstd_error.mean_abs:.3e} | {cells(norse)} | {ratio_time} | {ratio_memory} |",
        f"| DSTD M={sweep.target_steps} | 1/{sweep.target_steps} (grid) | {sweep.dstd_error.mean_abs:.3e} | "
        f"{sweep.dstd_error.mean_abs:.3e} | {cells(dstd)} | 1x | 1x |",
        "",
        "dt sweep (Norse): " + ", ".join(f"1/{e.steps}: {e.error.mean_abs:.2e}" for e in sweep.sweep),
        "ratios: Norse over DSTD (time per batch; peak memory above the baseline, fresh process each)",
    ]
    return "\n".join(lines)
