"""The benchmark's report: the machine, the summary of a run, the whole result and its text and markdown."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from .records import BoundRecord, CaseRecord, OdeBaselineRecord
from .settings import BenchSettings
from .workload import BENCH_FAMILIES, MODELS

Record = TypeVar("Record", CaseRecord, BoundRecord)


@dataclass(frozen=True)
class MachineDescription:
    """What the figures were measured on: CPU model, cores, memory, the torch build (and GPU)."""

    cpu: str
    cpu_count: int | None
    torch_threads: int
    memory_bytes: int | None
    torch: str
    python: str
    device: str
    gpu: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cpu": self.cpu, "cpu_count": self.cpu_count, "torch_threads": self.torch_threads,
            "memory_bytes": self.memory_bytes, "torch": self.torch, "python": self.python, "device": self.device,
        }  # fmt: skip
        if self.gpu is not None:
            out["gpu"] = self.gpu
        return out


def machine_description(device: str) -> MachineDescription:
    """CPU model, cores, memory and the torch build: what the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    total = None
    try:
        with open("/proc/meminfo") as meminfo:
            total = int(meminfo.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    gpu = None
    if device.startswith("cuda") and torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(torch.device(device))
    return MachineDescription(
        cpu=cpu, cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads(), memory_bytes=total,
        torch=torch.__version__, python=platform.python_version(), device=device, gpu=gpu,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# The summary.


@dataclass(frozen=True)
class OdeRatios:
    """A family's ODE baseline in the summary: time and memory over DSTD's, and the chosen tolerance."""

    time_ratio: float | None
    memory_ratio: float | None
    rtol: float


@dataclass(frozen=True)
class FamilySummary:
    """One family's figures at the summary's ``N_in``: exact over DSTD (time, memory), the ODE's, the bound's.

    ``key_prefix`` and ``bound_key_prefix`` name its keys in :meth:`Summary.to_dict`.
    """

    model: str
    key_prefix: str
    bound_key_prefix: str
    time_ratio: float | None
    memory_ratio: float | None
    ode: OdeRatios | None
    dstd_over_bound: float | None
    dstd_over_fused_bound: float | None


@dataclass(frozen=True)
class Summary:
    """The ``summary`` object of a run, one :class:`FamilySummary` per family."""

    n_in: int
    families: tuple[FamilySummary, ...]

    def family(self, model: str) -> FamilySummary | None:
        return next((family for family in self.families if family.model == model), None)

    def to_dict(self) -> dict[str, Any]:
        """``n_in``, each family's ``{prefix}time_ratio``, ``memory_ratio`` (and ``ode_*``), then the bounds'."""
        out: dict[str, Any] = {"n_in": self.n_in}
        for family in self.families:
            out[f"{family.key_prefix}time_ratio"] = family.time_ratio
            out[f"{family.key_prefix}memory_ratio"] = family.memory_ratio
            if family.ode is not None:
                out[f"{family.key_prefix}ode_time_ratio"] = family.ode.time_ratio
                out[f"{family.key_prefix}ode_memory_ratio"] = family.ode.memory_ratio
                out[f"{family.key_prefix}ode_rtol"] = family.ode.rtol
        for family in self.families:
            out[f"{family.bound_key_prefix}dstd_over_bound"] = family.dstd_over_bound
            out[f"{family.bound_key_prefix}dstd_over_fused_bound"] = family.dstd_over_fused_bound
        return out


def _find(records: Iterable[Record], **match: Any) -> Record | None:
    for record in records:
        if all(getattr(record, key) == value for key, value in match.items()):
            return record
    return None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def summarise(
    cases: Iterable[CaseRecord],
    bounds: Iterable[BoundRecord] = (),
    ode: OdeBaselineRecord | None = None,
    n_in: int = 1000,
) -> Summary:
    """Exact over DSTD (time, memory) per family, its ODE baseline, and DSTD over the bound, at ``n_in``.

    In the JSON ``dstd_over_bound`` is RC-Spike's (``M = 10``, ``2M = 20`` products), ``ttfs_dstd_over_bound`` TTFS's.
    """
    cases, bounds = list(cases), list(bounds)
    families = []
    for bench in BENCH_FAMILIES.values():
        exact = _find(cases, model=bench.name, method="exact", n_in=n_in, status="ok")
        dstd = _find(cases, model=bench.name, method="dstd", n_in=n_in, status="ok")
        bound = _find(bounds, model=bench.name, n_in=n_in, status="ok")
        entry = ode.family(bench.name) if ode is not None else None
        families.append(
            FamilySummary(
                model=bench.name,
                key_prefix=bench.summary_prefix,
                bound_key_prefix=bench.bound_summary_prefix,
                time_ratio=_ratio(exact.seconds if exact else None, dstd.seconds if dstd else None),
                memory_ratio=_ratio(exact.peak_bytes if exact else None, dstd.peak_bytes if dstd else None),
                ode=None if entry is None else OdeRatios(entry.time_ratio, entry.memory_ratio, entry.sweep.chosen.rtol),
                dstd_over_bound=bound.dstd_over_bound if bound else None,
                dstd_over_fused_bound=bound.dstd_over_fused_bound if bound else None,
            )
        )
    return Summary(n_in=n_in, families=tuple(families))


@dataclass(frozen=True)
class BenchResult:
    """A whole run: ``{machine, settings, quick, cases, bounds, ode, summary, wall_seconds}`` in :meth:`to_dict`."""

    machine: MachineDescription
    settings: BenchSettings
    quick: bool
    cases: tuple[CaseRecord, ...]
    bounds: tuple[BoundRecord, ...]
    ode: OdeBaselineRecord | None
    summary: Summary
    wall_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` file."""
        return {
            "machine": self.machine.to_dict(),
            "settings": self.settings.to_dict(),
            "quick": self.quick,
            "cases": [case.to_dict() for case in self.cases],
            "bounds": [bound.to_dict() for bound in self.bounds],
            "ode": None if self.ode is None else self.ode.to_dict(),
            "summary": self.summary.to_dict(),
            "wall_seconds": self.wall_seconds,
        }


# --------------------------------------------------------------------------------------------------
# Text output.


def _fmt_bytes(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(value) >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:.0f} B"


def _fmt(value: float | None, spec: str = ".3g") -> str:
    return "-" if value is None else format(value, spec)


def format_case(case: CaseRecord) -> str:
    """One line per case."""
    head = f"{case.model:>7} {case.method:>5} N_in={case.n_in:>5}"
    if not case.ok:
        return f"{head}: {case.status} ({case.reason})"
    note = f" [measured {case.samples_measured} of {case.samples} samples]" if case.extrapolated else ""
    if case.memory_scaled_from_batch:
        note += f" [batch {case.memory_scaled_from_batch}, peak scaled to {case.batch}]"
    return f"{head}: {case.seconds:9.3f} s  peak {_fmt_bytes(case.peak_bytes):>10}{note}"


def format_bound(bound: BoundRecord) -> str:
    """One line per bound."""
    head = f"{bound.model:>7} bound N_in={bound.n_in:>5}"
    if not bound.ok:
        return f"{head}: {bound.status} ({bound.reason})"
    return (
        f"{head}: DSTD batch {bound.dstd_batch_seconds * 1e3:.1f} ms, 2M products "
        f"{bound.bound_batch_seconds * 1e3:.1f} ms (fused {bound.fused_bound_batch_seconds * 1e3:.1f} ms): "
        f"dstd_over_bound {bound.dstd_over_bound:.2f} (median {bound.dstd_over_bound_median:.2f})"
    )


def format_markdown(result: BenchResult) -> str:
    """Markdown tables of the cases, the bound and the summary (what ``docs/results.md`` shows)."""
    lines = [
        "| model | N_in | exact time (s) | DSTD time (s) | time ratio | exact peak | DSTD peak | memory ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n_in in result.settings.n_ins:
        for model in MODELS:
            exact = _find(result.cases, model=model, method="exact", n_in=n_in)
            dstd = _find(result.cases, model=model, method="dstd", n_in=n_in)
            exact_seconds, exact_peak = (exact.seconds, exact.peak_bytes) if exact else (None, None)
            dstd_seconds, dstd_peak = (dstd.seconds, dstd.peak_bytes) if dstd else (None, None)
            star = "*" if exact and exact.extrapolated else ""
            lines.append(
                f"| {model} | {n_in} | {_fmt(exact_seconds)}{star} | {_fmt(dstd_seconds)} | "
                f"{_fmt(_ratio(exact_seconds, dstd_seconds))} | {_fmt_bytes(exact_peak)} | "
                f"{_fmt_bytes(dstd_peak)} | {_fmt(_ratio(exact_peak, dstd_peak))} |"
            )
    lines += [
        "",
        "| model | N_in | M | DSTD batch (ms) | 2M products (ms) | one fused product (ms) | dstd_over_bound "
        "| over fused |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for bound in result.bounds:
        if not bound.ok:
            continue
        lines.append(
            f"| {bound.model} | {bound.n_in} | {bound.steps} | {bound.dstd_batch_seconds * 1e3:.1f} | "
            f"{bound.bound_batch_seconds * 1e3:.1f} | {bound.fused_bound_batch_seconds * 1e3:.1f} | "
            f"{bound.dstd_over_bound:.2f} | {bound.dstd_over_fused_bound:.2f} |"
        )
    return "\n".join(lines)
