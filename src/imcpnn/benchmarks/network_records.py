"""Typed settings and records of the network benchmark (``imcpnn bench --network``, :mod:`.network`).

Plain values only: the settings and a case travel to each case's process as JSON, and every record's
``to_dict()`` is what the ``--json`` file holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..training.precision import check_precision_name
from .records import Status
from .report import MachineDescription

RATIO_STEPS = 4  # DSTD's training M of the summary's ratios


@dataclass(frozen=True)
class NetworkBenchSettings:
    """What ``imcpnn bench --network`` measures.

    Attributes:
        networks: preset names (:data:`~.network_workload.NETWORK_PRESETS`) or architecture strings.
        batch: the mini-batch of every step (32: the paper's and the trainer's training batch).
        steps: DSTD's ``M`` values (each also gives a bound case).
        repeats, warmup: timed steps per case, and untimed ones before them.
        threads: torch intra-op threads in the cases (``None``: torch's default).
        device: ``cpu`` or ``cuda[:i]``.
        e_rev, spike_noise, lr: ``|E±|``, the spike-time noise σ and Adam's learning rate of the steps.
        seed: torch's seed in every case.
        case_timeout: seconds before a case's process is killed.
        isolate: each case in fresh processes (``False``: in this one; its peak then includes what
            earlier cases left behind).
        precision: the steps' arithmetic, as ``imcpnn train --precision`` (:mod:`imcpnn.training.precision`):
            ``fp32``, ``bf16`` (forward and loss under autocast) or ``tf32`` (CUDA only).
    """

    networks: tuple[str, ...] = ("vgg7",)
    batch: int = 32
    steps: tuple[int, ...] = (2, 4, 10)
    repeats: int = 10
    warmup: int = 2
    threads: int | None = None
    device: str = "cpu"
    e_rev: float = 2.0
    spike_noise: float = 0.01
    lr: float = 1e-4
    seed: int = 0
    case_timeout: float = 3600.0
    isolate: bool = True
    precision: str = "fp32"

    def __post_init__(self) -> None:
        check_precision_name(self.precision)
        networks = tuple(dict.fromkeys(self.networks))  # in order, each once
        if not networks:
            raise ValueError("networks: give at least one network name or architecture string")
        object.__setattr__(self, "networks", networks)
        steps = tuple(dict.fromkeys(self.steps))
        if not steps or any(not _is_int(m) or m < 1 for m in steps):
            raise ValueError(f"steps: every DSTD M must be an integer >= 1; got {list(self.steps)}")
        object.__setattr__(self, "steps", steps)
        for name, low in (("batch", 1), ("repeats", 1), ("warmup", 0)):
            value = getattr(self, name)
            if not _is_int(value) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
        if self.threads is not None and (not _is_int(self.threads) or self.threads < 1):
            raise ValueError(f"threads must be an integer >= 1; got {self.threads!r}")
        if not (self.e_rev > 0 and self.spike_noise >= 0 and self.lr > 0 and self.case_timeout > 0):
            raise ValueError("e_rev, lr and case_timeout must be > 0 and spike_noise >= 0")

    @property
    def ratio_steps(self) -> int:
        """The ``M`` of the summary's ratios: 4 (training's) if measured, else the first of ``steps``."""
        return RATIO_STEPS if RATIO_STEPS in self.steps else self.steps[0]

    def to_dict(self) -> dict[str, Any]:
        out = {item.name: getattr(self, item.name) for item in fields(self)}
        return {**out, "networks": list(self.networks), "steps": list(self.steps)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> NetworkBenchSettings:
        return cls(**{**values, "networks": tuple(values["networks"]), "steps": tuple(values["steps"])})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class NetworkCase:
    """One case: a network (its name and architecture), ``"ann"``, ``"dstd"`` or ``"bound"``, and ``M``."""

    network: str
    arch: str
    case: str
    steps: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network, "arch": self.arch, "case": self.case, "steps": self.steps}

    @property
    def label(self) -> str:
        return {"ann": "ANN", "dstd": f"DSTD M={self.steps}", "bound": f"bound M={self.steps}"}[self.case]


@dataclass(frozen=True)
class NetworkCaseRecord:
    """Step time and peak memory of one case, or why it has none (``status``, ``reason``).

    Attributes:
        network, arch, case, steps: the case (``steps`` ``None`` for the ANN).
        intervals: DSTD's grid intervals ``K = M + 1`` of the products (``None`` for the ANN).
        batch, repeats, warmup: the steps run.
        step_seconds_median, step_seconds_min: over the timed steps.
        images_per_second: ``batch / step_seconds_median``.
        peak_bytes: peak memory of a training step above the memory after the warm-up, measured in a
            process of its own (CPU: with glibc's fixed mmap threshold, which the timing process does not
            have; see :mod:`imcpnn.benchmarks.network`).
        parameters: the trained (``dstd``, ``ann``) or stacked (``bound``) weights' element count.
        device, threads, load_average, peak_reset: the conditions (``peak_reset``: the CPU high-water
            mark could be reset; else ``ru_maxrss``).
    """

    network: str
    arch: str
    case: str
    steps: int | None
    status: Status = "ok"
    reason: str | None = None
    intervals: int | None = None
    batch: int | None = None
    repeats: int | None = None
    warmup: int | None = None
    step_seconds_median: float | None = None
    step_seconds_min: float | None = None
    images_per_second: float | None = None
    peak_bytes: int | None = None
    parameters: int | None = None
    device: str | None = None
    threads: int | None = None
    load_average: tuple[float, ...] | None = None
    peak_reset: bool | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def failed(cls, case: NetworkCase, reason: str) -> NetworkCaseRecord:
        return cls(network=case.network, arch=case.arch, case=case.case, steps=case.steps, status="failed",
                   reason=reason)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        out = {item.name: getattr(self, item.name) for item in fields(self)}
        if self.load_average is not None:
            out["load_average"] = list(self.load_average)
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> NetworkCaseRecord:
        values = dict(values)
        if values.get("load_average") is not None:
            values["load_average"] = tuple(values["load_average"])
        return cls(**values)


@dataclass(frozen=True)
class NetworkSummary:
    """One network's ratios: DSTD's fastest step over the bound's and the ANN's at ``ratio_steps``, and
    per ``M`` (``None`` where a case failed)."""

    network: str
    arch: str
    ratio_steps: int
    dstd_over_bound: float | None
    dstd_over_ann: float | None
    dstd_over_bound_by_steps: dict[int, float | None]
    dstd_over_ann_by_steps: dict[int, float | None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "arch": self.arch, "ratio_steps": self.ratio_steps, "dstd_over_bound": self.dstd_over_bound,
            "dstd_over_ann": self.dstd_over_ann,
            "dstd_over_bound_by_steps": {str(m): r for m, r in self.dstd_over_bound_by_steps.items()},
            "dstd_over_ann_by_steps": {str(m): r for m, r in self.dstd_over_ann_by_steps.items()},
        }  # fmt: skip


@dataclass(frozen=True)
class NetworkBenchResult:
    """A run: ``{machine, settings, cases, summary, wall_seconds}`` in :meth:`to_dict` (``summary`` by network)."""

    machine: MachineDescription
    settings: NetworkBenchSettings
    cases: tuple[NetworkCaseRecord, ...]
    summary: tuple[NetworkSummary, ...]
    wall_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` file."""
        return {
            "machine": self.machine.to_dict(),
            "settings": self.settings.to_dict(),
            "cases": [record.to_dict() for record in self.cases],
            "summary": {entry.network: entry.to_dict() for entry in self.summary},
            "wall_seconds": self.wall_seconds,
        }
