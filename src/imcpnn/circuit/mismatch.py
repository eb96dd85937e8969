"""Device mismatch from the sky130 models: a seeded Monte-Carlo DC characterisation (VARIATION.md sections 1, 3).

Under the library's ``<corner>_mm`` section (``MC_MM_SWITCH=1``) every FET instance draws its own Gaussian Vth
shift, the Pelgrom constant of its type over ``sqrt(L W mult)``; ``.option seed=N`` makes the draws
reproducible. One netlist per role and size holds ``instances`` independent copies of the device, each with
its own zero-volt source on a shared drain line, so one DC sweep (drain over the membrane range 0.43-1.36 V,
gate over the role's biases) measures them all. The instances are drawn once per run (one die), and the same
netlist with the same seed draws the same die.

Per instance and gate bias: the current at V0 and the λ of ``I = I0 (1 + λ ΔV)`` over the membrane range
(:func:`~.characterization.fit_channel_length_modulation`, the nominal characterisation's fit), and its
gate-referred offset: the gate shift at which the nominal device (mismatch off) carries the instance's current,
read from a fine nominal gate sweep at V0. The spread of these offsets is the Vth mismatch ``σ(Vth)`` the
models draw (the body sits at the source: no body effect). Over sizes it gives the area law
``σ(Vth) = A_VT / sqrt(W L)`` (:class:`~.characterization.PelgromFit`).

The devices are measured alone (the memory transistor without its selector, the discharger without its phase
switch): the switch in series drops under a millivolt, and its own mismatch is not the role's.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .characterization import (
    LAMBDA_CURRENT_RANGE,
    BiasTable,
    DeviceMismatch,
    MismatchStatistics,
    PelgromFit,
    fit_channel_length_modulation,
)
from .config import CircuitConfig, TransistorSize
from .netlist import NFET, PFET, include_line, mosfet
from .spice import model_library, run_ngspice

#: The memory transistor's sizes (W, L in µm) of the area-law measurement: the paper's 1 x 0.25 and three more
#: spanning 16 x in W·L.
PELGROM_SIZES = (
    TransistorSize(0.5, 0.25),
    TransistorSize(1.0, 0.25),
    TransistorSize(2.0, 0.5),
    TransistorSize(4.0, 1.0),
)
DEFAULT_INSTANCES = 200
DEFAULT_SEED = 1
#: At most this many gate biases per synapse role, spread evenly over its weight range.
MAX_GATE_BIASES = 6
#: The discharger's biases: ``vb_dis`` and this far (V) on either side.
DISCHARGER_OFFSETS_V = (-0.02, 0.0, 0.02)
#: Drain step (V) of the Monte-Carlo sweeps, over :data:`~.characterize.FIT_RANGE_V`.
MC_DRAIN_STEP_V = 0.01
#: Gate step (V) and margin (V, beyond the role's biases) of the nominal gate sweep that refers currents to the gate.
REFERENCE_GATE_STEP_V, REFERENCE_GATE_MARGIN_V = 0.001, 0.2
#: The synapse currents (A) at V0 of the Pelgrom fit's gate bias, in units of the unit-weight current.
PELGROM_CURRENT_FRACTION = 0.25


@dataclass(frozen=True)
class MismatchOptions:
    """What :func:`measure_mismatch` measures: ``instances`` devices per role and size, ngspice's ``seed``, and the
    memory transistors' sizes of the area law (``pelgrom_sizes``; the synapse's own size is always measured)."""

    instances: int = DEFAULT_INSTANCES
    seed: int = DEFAULT_SEED
    pelgrom_sizes: tuple[TransistorSize, ...] = PELGROM_SIZES

    def __post_init__(self) -> None:
        for name, low in (("instances", 3), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"MismatchOptions.{name} must be an integer >= {low}; got {value!r}")
        if not all(isinstance(size, TransistorSize) for size in self.pelgrom_sizes):
            raise ValueError("MismatchOptions.pelgrom_sizes must be TransistorSize(w, l) values in µm")


def _model(role: str) -> str:
    return PFET if role == "pmos" else NFET


def _device_lines(role: str, size: TransistorSize, count: int, config: CircuitConfig) -> list[str]:
    """``count`` copies of the role's device, drains on their own zero-volt sources ``Vm<k>`` from the line ``d``."""
    lines = [f"Vdd vdd 0 DC {config.vdd}"] if role == "pmos" else []
    source = "vdd" if role == "pmos" else "0"
    for k in range(count):
        lines.append(f"Vm{k} d d{k} DC 0")
        lines.append(mosfet(f"m{k}", f"d{k}", "g", source, source, _model(role), size))
    return lines


def _gate_sweep(gates: np.ndarray) -> tuple[float, float, float]:
    """``(first, last, step)`` of a stepped sweep through the evenly spaced ``gates``."""
    step = float(np.diff(gates).mean()) if gates.size > 1 else 0.01
    return float(gates[0]), float(gates[-1]), step


def _drain_grid() -> tuple[float, float, int]:
    from .characterize import FIT_RANGE_V

    start, stop = FIT_RANGE_V
    return start, stop, round((stop - start) / MC_DRAIN_STEP_V) + 1


def _sweep_instances(
    config: CircuitConfig, library: Path, work: Path, role: str, size: TransistorSize, gates: np.ndarray,
    count: int, seed: int | None, name: str,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """DC sweep of ``count`` instances: drain over the membrane range, gate over ``gates``.
    Returns ``V_D [n]`` and the drain currents' magnitudes ``I [count, gates, n]`` (A)."""
    start, stop, n_drain = _drain_grid()
    first, last, step = _gate_sweep(gates)
    lines = [
        f"* Monte-Carlo DC of the {role} role, W={size.w} L={size.l} um, {count} instances",
        *([f".option seed={seed}"] if seed is not None else []),
        include_line(library),
        f".temp {config.temperature:.9g}",
        f"Vd d 0 DC {config.v_rest}",
        f"Vg g 0 DC {first}",
        *_device_lines(role, size, count, config),
        f".dc Vd {start} {stop} {MC_DRAIN_STEP_V} Vg {first} {last + step / 4} {step}",
    ]
    vectors = [f"i(vm{k})" for k in range(count)]
    data = run_ngspice("\n".join(lines), work, vectors=[*vectors, "v(g)"], name=name, timeout_s=600.0)
    n_gates = data["v(g)"].size // n_drain
    swept = data["v(g)"].reshape(n_gates, n_drain)[:, 0]
    picked = [int(np.argmin(np.abs(swept - g))) for g in gates]
    # i(vm) > 0: current from the line into the NMOS drain (sunk); the PMOS sources it into the line (< 0)
    sign = -1.0 if role == "pmos" else 1.0
    currents = np.stack([sign * data[v].reshape(n_gates, n_drain)[picked] for v in vectors])
    return data["v-sweep"][:n_drain], currents


def _reference_curve(
    config: CircuitConfig, library: Path, work: Path, role: str, size: TransistorSize, gates: np.ndarray, name: str
) -> BiasTable:
    """The nominal device's current at V_D = V0 on a fine gate grid around ``gates`` (a :class:`BiasTable` for
    its log-current interpolation; λ and R² are not fitted there)."""
    low = float(gates.min()) - REFERENCE_GATE_MARGIN_V
    high = float(gates.max()) + REFERENCE_GATE_MARGIN_V
    if role == "pmos":
        high = min(high, config.vdd)
    lines = [
        f"* nominal gate sweep of the {role} role at V0, W={size.w} L={size.l} um",
        include_line(library),
        f".temp {config.temperature:.9g}",
        f"Vd d 0 DC {config.v_rest}",
        f"Vg g 0 DC {low}",
        *_device_lines(role, size, 1, config),
        f".dc Vg {low} {high + REFERENCE_GATE_STEP_V / 4} {REFERENCE_GATE_STEP_V}",
    ]
    data = run_ngspice("\n".join(lines), work, vectors=["i(vm0)"], name=name, timeout_s=600.0)
    current = np.abs(data["i(vm0)"])
    zeros = np.zeros_like(current)
    return BiasTable(data["v-sweep"], current, zeros, zeros)


def gate_referred_offsets(reference: BiasTable, gate_v: float, current_a: np.ndarray, pmos: bool) -> np.ndarray:
    """Each instance's gate-referred offset (V; > 0: a weaker device, as a higher |Vth|): the shift of the gate
    bias at which the nominal device ``reference`` carries the instance's ``current_a`` at ``gate_v``."""
    equivalent = reference.gate_for_current(current_a)
    return (equivalent - gate_v) if pmos else (gate_v - equivalent)


def _statistics(
    role: str, size: TransistorSize, gates: np.ndarray, drain: np.ndarray, currents: np.ndarray,
    nominal: np.ndarray, reference: BiasTable, v0: float,
) -> DeviceMismatch:  # fmt: skip
    """The :class:`DeviceMismatch` of one role and size from the instances' ``currents [k, g, n]`` and the
    nominal device's ``nominal [g, n]``."""
    pmos = role == "pmos"
    at_v0 = int(np.argmin(np.abs(drain - v0)))
    fits = np.array(
        [[fit_channel_length_modulation(drain, currents[k, g], v0, pmos)[1] for g in range(gates.size)]
         for k in range(currents.shape[0])]
    )  # fmt: skip
    i0 = currents[:, :, at_v0]
    offsets = np.stack([gate_referred_offsets(reference, float(g), i0[:, j], pmos) for j, g in enumerate(gates)], 1)
    return DeviceMismatch(
        role=role, w_um=size.w, l_um=size.l, gate_v=gates.copy(), nominal_current_a=nominal[:, at_v0].copy(),
        nominal_lambda=np.array([fit_channel_length_modulation(drain, row, v0, pmos)[1] for row in nominal]),
        mean_current_a=i0.mean(axis=0), sigma_current_rel=i0.std(axis=0, ddof=1) / i0.mean(axis=0),
        mean_lambda=fits.mean(axis=0), sigma_lambda=fits.std(axis=0, ddof=1), sigma_vth_v=offsets.std(axis=0, ddof=1),
    )  # fmt: skip


def fit_pelgrom(role: str, devices: Sequence[DeviceMismatch], gate_v: float) -> PelgromFit:
    """``σ(Vth) = A_VT / sqrt(W L)`` over ``devices`` (one role at several sizes, all measured at ``gate_v``):
    least squares through the origin in ``x = 1 / sqrt(W L)``, ``A_VT = Σ x σ / Σ x²`` (V·µm), and its R²."""
    if len(devices) < 2:
        raise ValueError(f"the area law of the {role} role needs at least two sizes; got {len(devices)}")
    rows = [int(np.argmin(np.abs(d.gate_v - gate_v))) for d in devices]
    sigma = np.array([d.sigma_vth_v[k] for d, k in zip(devices, rows, strict=True)])
    w = np.array([d.w_um for d in devices])
    length = np.array([d.l_um for d in devices])
    x = 1.0 / np.sqrt(w * length)
    a_vt = float(np.sum(x * sigma) / np.sum(x * x))
    total = float(np.sum((sigma - sigma.mean()) ** 2))
    r2 = 1.0 - float(np.sum((sigma - a_vt * x) ** 2)) / total if total > 0 else 1.0
    current = np.array([d.sigma_current_rel[k] for d, k in zip(devices, rows, strict=True)])
    return PelgromFit(role, float(gate_v), w, length, sigma, current, a_vt, r2)


def synapse_gate_biases(table: BiasTable, config: CircuitConfig, max_biases: int = MAX_GATE_BIASES) -> np.ndarray:
    """Evenly spaced gate biases (V) of the table's rows whose nominal current at V0 lies in the weight range
    (:data:`~.characterization.LAMBDA_CURRENT_RANGE` times the unit-weight current), at most ``max_biases``."""
    low, high = (f * config.unit_current for f in LAMBDA_CURRENT_RANGE)
    rows = np.flatnonzero((table.current_a >= low) & (table.current_a <= high))
    if rows.size == 0:
        raise ValueError(
            f"no row of the I0(V_G) table carries {low * 1e9:.1f}-{high * 1e9:.1f} nA at V0: widen its gate grid"
        )
    stride = max(1, math.ceil(rows.size / max_biases))
    picked = rows[::stride]
    return np.round(np.sort(table.gate_v[picked]), 6)


def measure_device(
    config: CircuitConfig,
    role: str,
    size: TransistorSize,
    gates: np.ndarray | Sequence[float],
    instances: int = DEFAULT_INSTANCES,
    seed: int = DEFAULT_SEED,
    work_dir: Path | None = None,
) -> DeviceMismatch:
    """The Monte-Carlo DC statistics of one role (``nmos``, ``pmos``: the memory transistors; ``discharger``) at
    one ``size`` and the evenly spaced gate biases ``gates`` (V): ``instances`` devices under the corner's ``_mm``
    models with ngspice's ``seed``, against the nominal device (mismatch off). The same arguments give the same
    numbers."""
    if role not in ("nmos", "pmos", "discharger"):
        raise ValueError(f"unknown role {role!r}; choose from nmos, pmos, discharger")
    gates = np.round(np.asarray(gates, dtype=float), 6)
    if gates.ndim != 1 or gates.size == 0 or (gates.size > 1 and np.ptp(np.diff(gates)) > 1e-9):
        raise ValueError(f"gates must be evenly spaced gate biases (V), at least one; got {gates.tolist()}")
    library_mm = model_library(corner=config.corner, mismatch=True)
    library = model_library(corner=config.corner)
    with tempfile.TemporaryDirectory(prefix="imcpnn_mismatch_") as folder:
        work = Path(work_dir) if work_dir is not None else Path(folder)
        drain, currents = _sweep_instances(config, library_mm, work, role, size, gates, instances, seed, "mc")
        _, nominal = _sweep_instances(config, library, work, role, size, gates, 1, None, "nominal")
        reference = _reference_curve(config, library, work, role, size, gates, "reference")
    return _statistics(role, size, gates, drain, currents, nominal[0], reference, config.v_rest)


def measure_mismatch(
    config: CircuitConfig,
    tables: dict[str, BiasTable],
    options: MismatchOptions | None = None,
    work_dir: Path | None = None,
) -> MismatchStatistics:
    """The Monte-Carlo DC statistics of every role (VARIATION.md section 3) at the config's corner and temperature.

    ``tables``: the nominal characterisation's ``nmos`` and ``pmos`` tables, which give each synapse role its gate
    biases (:func:`synapse_gate_biases`); the discharger is measured at ``config.vb_dis`` and
    :data:`DISCHARGER_OFFSETS_V` around it. The memory transistors are also measured at ``options.pelgrom_sizes``
    (same gate biases) for the area law, fitted at the bias nearest a nominal :data:`PELGROM_CURRENT_FRACTION` of
    the unit-weight current. About 2 s per 100 instances and role or size on one core.
    """
    options = options or MismatchOptions()
    started = time.perf_counter()
    plan: list[tuple[str, TransistorSize, np.ndarray]] = []
    for role in ("nmos", "pmos"):
        gates = synapse_gate_biases(tables[role], config)
        sizes = [config.synapse, *(s for s in options.pelgrom_sizes if s != config.synapse)]
        plan += [(role, size, gates) for size in sizes]
    plan.append(("discharger", config.discharger, np.round(config.vb_dis + np.array(DISCHARGER_OFFSETS_V), 6)))
    devices = [
        measure_device(config, role, size, gates, options.instances, options.seed, work_dir)
        for role, size, gates in plan
    ]
    pelgrom = []
    for role in ("nmos", "pmos"):
        measured = [d for d in devices if d.role == role]
        paper = next(d for d in measured if math.isclose(d.w_um, config.synapse.w) and d.l_um == config.synapse.l)
        gate = float(
            paper.gate_v[
                int(np.argmin(np.abs(paper.nominal_current_a - PELGROM_CURRENT_FRACTION * config.unit_current)))
            ]
        )
        if len(measured) >= 2:
            pelgrom.append(fit_pelgrom(role, measured, gate))
    return MismatchStatistics(
        library_section=f"{config.corner}_mm", corner=config.corner, temperature_c=config.temperature,
        seed=options.seed, instances=options.instances, devices=tuple(devices), pelgrom=tuple(pelgrom),
        wall_time_s=time.perf_counter() - started,
    )  # fmt: skip
