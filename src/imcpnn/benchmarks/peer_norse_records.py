"""Typed records of the Norse peer comparison (:mod:`imcpnn.benchmarks.peer_norse_compare`), each with a
``to_dict()`` for the ``--json`` file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .records import CaseRecord
from .report import MachineDescription
from .settings import BenchSettings


@dataclass(frozen=True)
class EndPotentialError:
    """``|v(1) - v_exact(1)|`` over every sample and neuron: the mean (the measure of
    :func:`imcpnn.benchmarks.accuracy.end_potential_errors`, which the dt is matched on) and the max."""

    mean_abs: float
    max_abs: float

    def to_dict(self) -> dict[str, float]:
        return {"mean_abs": self.mean_abs, "max_abs": self.max_abs}


@dataclass(frozen=True)
class EulerSweepEntry:
    """One time step of the sweep: ``steps`` Euler steps on ``[0, 1]`` (``dt = 1/steps``), the peer's
    end-potential error and the seconds of its forward pass over the sweep's samples."""

    steps: int
    error: EndPotentialError
    seconds: float

    @property
    def dt(self) -> float:
        return 1.0 / self.steps

    def to_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "dt": self.dt, **self.error.to_dict(), "seconds": self.seconds}


@dataclass(frozen=True)
class TimeStepSweep:
    """DSTD's end-potential error at ``target_steps`` and the Norse peer's along the dt sweep (forward, in
    ``dtype``, against the exact solver in float64); ``chosen``: the largest dt at or below DSTD's mean
    error (the smallest tried, with ``reached=False``, if none)."""

    samples: int
    n_in: int
    n_out: int
    e_rev: float
    dtype: str
    target_steps: int
    dstd_error: EndPotentialError
    sweep: tuple[EulerSweepEntry, ...]
    chosen: EulerSweepEntry
    reached: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples, "n_in": self.n_in, "n_out": self.n_out, "e_rev": self.e_rev, "dtype": self.dtype,
            "target_steps": self.target_steps, "dstd_error": self.dstd_error.to_dict(),
            "sweep": [entry.to_dict() for entry in self.sweep], "chosen_steps": self.chosen.steps,
            "chosen_dt": self.chosen.dt, "chosen_error": self.chosen.error.to_dict(), "reached": self.reached,
        }  # fmt: skip


@dataclass(frozen=True)
class NorsePeerRecord:
    """The comparison: the dt sweep, then Norse at the chosen dt against DSTD at ``M = target_steps``,
    forward + backward on the same layer, each in a fresh subprocess."""

    machine: MachineDescription
    settings: BenchSettings
    norse_version: str | None
    sweep: TimeStepSweep
    norse_case: CaseRecord
    dstd_case: CaseRecord
    wall_seconds: float

    @property
    def time_ratio(self) -> float | None:
        """Norse's time over DSTD's (``None`` unless both cases ran)."""
        if not (self.norse_case.ok and self.dstd_case.ok):
            return None
        return self.norse_case.seconds / self.dstd_case.seconds

    @property
    def memory_ratio(self) -> float | None:
        """Norse's peak memory over DSTD's (``None`` unless both cases ran)."""
        if not (self.norse_case.ok and self.dstd_case.ok):
            return None
        return self.norse_case.peak_bytes / max(self.dstd_case.peak_bytes, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "peer": "norse",
            "norse_version": self.norse_version,
            "machine": self.machine.to_dict(),
            "settings": self.settings.to_dict(),
            "sweep": self.sweep.to_dict(),
            "norse_case": {**self.norse_case.to_dict(), "euler_steps": self.sweep.chosen.steps},
            "dstd_case": self.dstd_case.to_dict(),
            "time_ratio": self.time_ratio,
            "memory_ratio": self.memory_ratio,
            "wall_seconds": self.wall_seconds,
        }
