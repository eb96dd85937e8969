"""Typed records of a benchmark run: the cases a child process measures and what it reports back.

Each record is frozen and has a ``to_dict()`` giving the JSON the ``--json`` file has always held
(keys, nesting, ``None`` for what was not measured); the child-process protocol is the same JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True)
class OdeSolveOptions:
    """Keyword arguments of one torchdiffeq solve (:mod:`imcpnn.benchmarks.ode`).

    ``n_eval``: dense-output samples of a family solved by crossing detection (TTFS); ``None`` for one
    whose output is the end potential (RC-Spike).
    """

    rtol: float
    atol: float
    adjoint: bool = False
    n_eval: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rtol": self.rtol, "atol": self.atol, "adjoint": self.adjoint}
        if self.n_eval is not None:
            out["n_eval"] = self.n_eval
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> OdeSolveOptions:
        return cls(**values)


@dataclass(frozen=True)
class CaseSpec:
    """One case for a child process: a family (``model``), a method and the layer's inputs; ``None``
    fields take the settings' values (``n_out``, ``samples``, ``batch``, ``dtype``)."""

    model: str
    method: str
    n_in: int
    n_out: int | None = None
    samples: int | None = None
    batch: int | None = None
    dtype: str | None = None
    ode: OdeSolveOptions | None = None  # the torchdiffeq solve of ``method="ode"``

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "case", "model": self.model, "method": self.method, "n_in": self.n_in}
        for name in ("n_out", "samples", "batch", "dtype"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.ode is not None:
            out["ode_kw"] = self.ode.to_dict()
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> CaseSpec:
        ode = values.get("ode_kw")
        return cls(
            model=values["model"], method=values["method"], n_in=int(values["n_in"]), n_out=values.get("n_out"),
            samples=values.get("samples"), batch=values.get("batch"), dtype=values.get("dtype"),
            ode=None if ode is None else OdeSolveOptions.from_dict(ode),
        )  # fmt: skip


@dataclass(frozen=True)
class BoundSpec:
    """The bound's measurement for a child process: DSTD against the ``2M`` dense products of a family."""

    model: str
    n_in: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "bound", "model": self.model, "n_in": self.n_in}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> BoundSpec:
        return cls(model=values["model"], n_in=int(values["n_in"]))


_CASE_KEYS: dict[str, tuple[str, ...]] = {
    "ok": (
        "model", "method", "n_in", "n_out", "steps", "seconds", "peak_bytes", "samples", "samples_measured",
        "extrapolated", "batch", "batch_seconds_min", "batch_seconds_median", "fired_fraction", "dtype", "threads",
        "load_average", "peak_reset", "status",
    ),
    "skipped": ("model", "method", "n_in", "n_out", "steps", "seconds", "peak_bytes", "status", "reason"),
    "failed": ("model", "method", "n_in", "seconds", "peak_bytes", "status", "reason"),
}  # fmt: skip


@dataclass(frozen=True)
class CaseRecord:
    """Time and peak memory of one case, or why it has none (``status`` ``"failed"``/``"skipped"``, ``reason``).

    Attributes:
        model, method, n_in, n_out: the family, the solver and the layer.
        steps: DSTD's ``M`` (``None`` for the other methods).
        seconds: time of forward + backward over ``samples`` samples (extrapolated when ``extrapolated``).
        peak_bytes: peak memory above the baseline (scaled to ``batch`` when ``memory_scaled_from_batch``).
        samples_measured: samples actually run (fewer than ``samples`` under ``max_case_seconds``).
        batch_seconds_min, batch_seconds_median: per mini-batch.
        fired_fraction: output neurons that fired.
        dtype, threads, load_average: the conditions of the measurement.
        peak_reset: whether the resident-set high-water mark could be reset (else ``ru_maxrss``).
        ode, nfe_forward: the torchdiffeq solve and its forward evaluations per batch (``method="ode"``).
        memory_scaled_from_batch, peak_bytes_measured: the smaller batch an exact case ran on and its peak.
        comparison: ``"ode"`` for the cases of the ODE comparison.
    """

    model: str
    method: str
    n_in: int
    status: Status = "ok"
    reason: str | None = None
    n_out: int | None = None
    steps: int | None = None
    seconds: float | None = None
    peak_bytes: int | None = None
    samples: int | None = None
    samples_measured: int | None = None
    extrapolated: bool | None = None
    batch: int | None = None
    batch_seconds_min: float | None = None
    batch_seconds_median: float | None = None
    fired_fraction: float | None = None
    dtype: str | None = None
    threads: int | None = None
    load_average: tuple[float, ...] | None = None
    peak_reset: bool | None = None
    ode: OdeSolveOptions | None = None
    nfe_forward: tuple[int, ...] | None = None
    memory_scaled_from_batch: int | None = None
    peak_bytes_measured: int | None = None
    comparison: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def failed(cls, spec: CaseSpec, reason: str) -> CaseRecord:
        return cls(model=spec.model, method=spec.method, n_in=spec.n_in, status="failed", reason=reason)

    @classmethod
    def skipped(cls, spec: CaseSpec, n_out: int, reason: str) -> CaseRecord:
        return cls(model=spec.model, method=spec.method, n_in=spec.n_in, n_out=n_out, status="skipped", reason=reason)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in _CASE_KEYS[self.status]}
        if "load_average" in out and self.load_average is not None:
            out["load_average"] = list(self.load_average)
        if self.ok and self.method == "ode":
            out["ode"] = {} if self.ode is None else self.ode.to_dict()
            out["nfe_forward"] = list(self.nfe_forward or ())
        if self.memory_scaled_from_batch is not None:
            out["memory_scaled_from_batch"] = self.memory_scaled_from_batch
            out["peak_bytes_measured"] = self.peak_bytes_measured
        if self.comparison is not None:
            out["comparison"] = self.comparison
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> CaseRecord:
        """The inverse of :meth:`to_dict` (what a child process prints)."""
        values = dict(values)
        if values.get("load_average") is not None:
            values["load_average"] = tuple(values["load_average"])
        if values.get("nfe_forward") is not None:
            values["nfe_forward"] = tuple(values["nfe_forward"])
        if values.get("ode") is not None:
            values["ode"] = OdeSolveOptions.from_dict(values["ode"]) if values["ode"] else None
        return cls(**values)


_BOUND_KEYS = (
    "model", "n_in", "n_out", "steps", "batch", "repeats", "dstd_batch_seconds", "bound_batch_seconds",
    "fused_bound_batch_seconds", "dstd_over_bound", "dstd_over_bound_median", "dstd_over_fused_bound",
    "dstd_over_fused_bound_median", "status",
)  # fmt: skip


@dataclass(frozen=True)
class BoundRecord:
    """DSTD's batch time against the bound's (the fastest of ``repeats`` alternating repetitions).

    ``bound``: the ``2M`` products; ``fused``: one stacked product. ``dstd_over_bound`` is the fastest
    over the fastest, ``dstd_over_bound_median`` the median of the per-repetition ratios.
    """

    model: str
    n_in: int
    status: Status = "ok"
    reason: str | None = None
    n_out: int | None = None
    steps: int | None = None
    batch: int | None = None
    repeats: int | None = None
    dstd_batch_seconds: float | None = None
    bound_batch_seconds: float | None = None
    fused_bound_batch_seconds: float | None = None
    dstd_over_bound: float | None = None
    dstd_over_bound_median: float | None = None
    dstd_over_fused_bound: float | None = None
    dstd_over_fused_bound_median: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def failed(cls, spec: BoundSpec, reason: str) -> BoundRecord:
        return cls(model=spec.model, n_in=spec.n_in, status="failed", reason=reason)

    def to_dict(self) -> dict[str, Any]:
        if self.ok:
            return {name: getattr(self, name) for name in _BOUND_KEYS}
        fields = {"model": self.model, "n_in": self.n_in, "seconds": None, "peak_bytes": None}
        return {**fields, "status": self.status, "reason": self.reason}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> BoundRecord:
        return cls(**values)


# --------------------------------------------------------------------------------------------------
# The ODE baseline.


@dataclass(frozen=True)
class SpikeTimeError:
    """Mean and max ``|t - t_exact|`` over neurons firing in both, and the fraction disagreeing on firing."""

    mean_abs: float
    max_abs: float
    firing_mismatch: float

    def to_dict(self) -> dict[str, float]:
        return {"mean_abs": self.mean_abs, "max_abs": self.max_abs, "firing_mismatch": self.firing_mismatch}


@dataclass(frozen=True)
class OdeSweepEntry:
    """One tolerance of the sweep: the ODE's spike-time error, forward evaluations and time."""

    rtol: float
    atol: float
    dtype: str
    nfe: int
    seconds: float
    error: SpikeTimeError

    def to_dict(self) -> dict[str, Any]:
        head = {"rtol": self.rtol, "atol": self.atol, "dtype": self.dtype, "nfe": self.nfe, "seconds": self.seconds}
        return {**head, **self.error.to_dict()}


@dataclass(frozen=True)
class ToleranceSweep:
    """DSTD's error at ``target_steps`` and the ODE's along the sweep; ``chosen``: the first entry that
    reached it (the last tried, with ``reached=False``, if none)."""

    model: str
    samples: int
    n_in: int
    n_out: int
    target_steps: int
    dstd_error: SpikeTimeError
    sweep: tuple[OdeSweepEntry, ...]
    chosen: OdeSweepEntry
    reached: bool
    n_eval: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "samples": self.samples,
            "n_in": self.n_in,
            "n_out": self.n_out,
            "target_steps": self.target_steps,
            "dstd_error": self.dstd_error.to_dict(),
            "sweep": [entry.to_dict() for entry in self.sweep],
            "chosen_rtol": self.chosen.rtol,
            "chosen_dtype": self.chosen.dtype,
            "chosen_error": self.chosen.error.to_dict(),
            "chosen_nfe_forward": self.chosen.nfe,
            "reached": self.reached,
            "n_eval": self.n_eval,
        }


@dataclass(frozen=True)
class OdeFamilyRecord:
    """One family of the ODE baseline: its sweep, then the ODE case against DSTD on the same layer."""

    sweep: ToleranceSweep
    timed_samples: int
    ode_case: CaseRecord
    dstd_case: CaseRecord

    @property
    def model(self) -> str:
        return self.sweep.model

    @property
    def time_ratio(self) -> float | None:
        """ODE time over DSTD's (``None`` unless both cases ran)."""
        if not (self.ode_case.ok and self.dstd_case.ok):
            return None
        return self.ode_case.seconds / self.dstd_case.seconds

    @property
    def memory_ratio(self) -> float | None:
        if not (self.ode_case.ok and self.dstd_case.ok):
            return None
        return self.ode_case.peak_bytes / max(self.dstd_case.peak_bytes, 1)

    def to_dict(self) -> dict[str, Any]:
        out = {
            **self.sweep.to_dict(),
            "timed_samples": self.timed_samples,
            "ode_case": self.ode_case.to_dict(),
            "dstd_case": self.dstd_case.to_dict(),
        }
        if self.ode_case.ok and self.dstd_case.ok:
            out["time_ratio"] = self.time_ratio
            out["memory_ratio"] = self.memory_ratio
        return out


@dataclass(frozen=True)
class OdeBaselineRecord:
    """The ODE comparison: the layer's size and one :class:`OdeFamilyRecord` per family run so far."""

    n_in: int
    n_out: int
    samples: int
    adjoint: bool
    models: tuple[OdeFamilyRecord, ...] = ()

    def family(self, name: str) -> OdeFamilyRecord | None:
        return next((entry for entry in self.models if entry.model == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_in": self.n_in,
            "n_out": self.n_out,
            "samples": self.samples,
            "adjoint": self.adjoint,
            "models": {entry.model: entry.to_dict() for entry in self.models},
        }
