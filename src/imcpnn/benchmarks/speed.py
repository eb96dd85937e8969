"""Speed and peak memory of one layer: DSTD against the exact solver, a generic ODE solver and the bound.

The setup of the paper's Fig. 3c-f: one fully connected layer of ``N_out = 1000`` neurons, input spike
times uniform in ``[0, 1]``, 1000 samples in mini-batches of 100, forward and backward (loss = sum of
the output spike times; gradients with respect to the weights and the input times). RC-Spike with
``M = 10``, TTFS with ``M = 20``. Every case runs in a fresh subprocess, so that its peak memory is its
own (:mod:`imcpnn.benchmarks.measure`; ``python -m imcpnn.benchmarks.speed CASE_JSON`` runs one).

The bound (``method="bound"``) is the ``2M`` dense products ``[B, N_in] x [N_in, N_out]`` of the same
shapes, forward and backward (each product's input and weight gradients), timed in the same child as
DSTD, alternating, and compared by the fastest of several repetitions. See ``docs/benchmarks.md``.

The parts: :mod:`.settings` (what is measured), :mod:`.workload` (the layer, one row per family),
:mod:`.measure` (the child processes), :mod:`.ode_baseline` (torchdiffeq), :mod:`.report` (summary and
tables); this module runs them all (:func:`run_benchmark`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..atomic import write_json
from .measure import child_main, run_bound, run_case, run_within_memory
from .ode_baseline import run_ode_baseline
from .records import BoundRecord, BoundSpec, CaseRecord, CaseSpec, OdeBaselineRecord
from .report import BenchResult, format_bound, format_case, format_markdown, machine_description, summarise
from .settings import BenchSettings, OdeBaselineSettings, quick_settings
from .workload import MODELS, forward_backward, make_inputs, make_weight

__all__ = [
    "MODELS",
    "BenchResult",
    "BenchSettings",
    "OdeBaselineSettings",
    "format_bound",
    "format_case",
    "format_markdown",
    "forward_backward",
    "make_inputs",
    "make_weight",
    "quick_settings",
    "run_benchmark",
    "run_case",
    "summarise",
]


def run_benchmark(
    settings: BenchSettings | None = None,
    *,
    quick: bool = False,
    json_path: Path | str | None = None,
    progress: Callable[[str], None] | None = print,
    **changes: Any,
) -> BenchResult:
    """Run every case (each in a fresh subprocess) and return the :class:`BenchResult`.

    ``settings`` (default :class:`BenchSettings`, or :func:`quick_settings` with ``quick=True``) may be
    adjusted by keyword (``device="cuda"``, ``n_ins=(100, 1000)``, ...). With ``json_path`` the result
    (:meth:`BenchResult.to_dict`) is written there (atomically) after every case, so an interrupted run
    keeps what it measured.
    """
    if settings is None:
        settings = quick_settings() if quick else BenchSettings()
    if changes:
        settings = replace(settings, **changes)
    if settings.summary_n_in not in settings.n_ins:
        settings = replace(settings, n_ins=tuple(sorted({*settings.n_ins, settings.summary_n_in})))
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    machine = machine_description(settings.device)
    cases: list[CaseRecord] = []
    bounds: list[BoundRecord] = []
    ode: OdeBaselineRecord | None = None

    def save() -> BenchResult:
        result = BenchResult(
            machine=machine,
            settings=settings,
            quick=quick,
            cases=tuple(cases),
            bounds=tuple(bounds),
            ode=ode,
            summary=summarise(cases, bounds, ode, settings.summary_n_in),
            wall_seconds=time.perf_counter() - started,
        )
        if json_path is not None:
            write_json(json_path, result.to_dict(), allow_nan=False)
        return result

    def ode_family_done(record: OdeBaselineRecord) -> None:
        nonlocal ode
        ode = record
        cases.append(record.models[-1].ode_case)
        save()

    for n_in in settings.n_ins:
        for model in MODELS:
            for method in ("dstd", "exact"):
                case = run_within_memory(CaseSpec(model=model, method=method, n_in=n_in), settings)
                cases.append(case)
                say(format_case(case))
                save()
            bound = run_bound(BoundSpec(model=model, n_in=n_in), settings)
            bounds.append(bound)
            say(format_bound(bound))
            save()
    if settings.include_ode:
        ode = run_ode_baseline(settings, say=say, on_family=ode_family_done)
    result = save()
    say(f"benchmark finished in {time.perf_counter() - started:.0f} s")
    return result


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
