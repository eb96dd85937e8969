"""Device characterisation: DC sweeps, channel-length-modulation fits, I0(V_G) tables, E± and β_dis.

Three transistor roles, each swept over the membrane range at many gate biases (paper Fig. 17, 20):

- NMOS synapse: the memory ``nfet_01v8`` (W/L of the synapse) with its drain on the membrane and
  its selector (gate at vdd, on) in series to ground, exactly as in the circuit; the selector drops
  well under a millivolt, so this is the memory transistor's own characteristic to within 0.5 %.
- PMOS synapse: the memory ``pfet_01v8`` with its selector (gate at 0 V) in series to vdd.
- Discharger: the ``nfet_01v8`` biased at ``vb_dis`` with its phase switch on, in series to ground.

Each I-V curve is fitted with ``I = I0 (1 + λ ΔV)`` over the fit range (0.43-1.36 V); the λ, the
tables and the derived ``E±``, ``β_dis`` are a :class:`~.characterization.Characterization`.
:func:`fit_characterization` is that fit, whatever the curves' origin: the SPICE sweeps here, or
measured curves read from a CSV file (:mod:`.iv_csv`).
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..atomic import write_json
from ..outdir import check_output_folder
from .characterization import LAMBDA_CURRENT_RANGE, BiasTable, Characterization, fit_channel_length_modulation
from .config import CircuitConfig
from .netlist import NFET, PFET, LayerBiases, build_network_netlist, include_line, mosfet
from .plots import plot_iv_curves
from .spice import model_library, run_ngspice

if TYPE_CHECKING:
    from .mismatch import MismatchOptions

FIT_RANGE_V = (0.43, 1.36)  # V, membrane range of the fits (paper Fig. 17, 20)
SWEEP_STEP_V = 0.01  # V, drain step of the sweeps
NMOS_GATE_GRID_V = (0.20, 0.80, 0.01)  # start, stop, step (V): the weight -> bias table
PMOS_GATE_GRID_V = (0.90, 1.60, 0.01)
DISCHARGER_GATE_GRID_V = (0.45, 0.65, 0.01)
#: The transistor roles, named as the tables of ``characterization.json`` name them: the synapse's NMOS
#: memory transistor, the synapse's PMOS memory transistor, the neuron's discharger.
ROLES = ("nmos", "pmos", "discharger")


@dataclass(frozen=True)
class IVCurve:
    """One I-V curve of a transistor role at one gate bias (CIRCUIT.md, "Model ↔ circuit flow", step 1).

    ``gate_v``: V_G (V, to ground); ``drain_v``: V_D, the membrane (drain) voltages (V, to ground) [n];
    ``current_a``: the drain current's magnitude (A) at each V_D [n], what the role sinks from (NMOS,
    discharger) or sources into (PMOS) the membrane.
    """

    gate_v: float
    drain_v: np.ndarray
    current_a: np.ndarray


def _grid(start: float, stop: float, step: float) -> np.ndarray:
    return np.round(np.arange(start, stop + step / 2, step), 6)


def _sweep(
    config: CircuitConfig, library: Path, work_dir: Path, role: str, gates: np.ndarray, timeout_s: float = 600.0
) -> tuple[np.ndarray, np.ndarray]:
    """DC sweep of one role: drain over :data:`FIT_RANGE_V`, gate over ``gates``. Returns V_D [n], I [gates, n] (A)."""
    start, stop = FIT_RANGE_V
    size = config.discharger if role == "discharger" else config.synapse
    if role == "pmos":
        devices = [
            mosfet("mem", "d", "g", "s", "vdd", PFET, size, shared_source=True),
            mosfet("sel", "s", "0", "vdd", "vdd", PFET, config.synapse, shared_drain=True),
        ]
    elif role == "nmos":
        devices = [
            mosfet("mem", "d", "g", "s", "0", NFET, size, shared_source=True),
            mosfet("sel", "s", "vdd", "0", "0", NFET, config.synapse, shared_drain=True),
        ]
    else:
        devices = [
            mosfet("mem", "d", "g", "s", "0", NFET, size, shared_source=True),
            mosfet("sel", "s", "vdd", "0", "0", NFET, config.discharger_switch, shared_drain=True),
        ]
    lines = [
        f"* DC sweep of the {role} role",
        include_line(library),
        f".temp {config.temperature:.9g}",
        f"Vdd vdd 0 DC {config.vdd}",
        f"Vd d 0 DC {config.v_rest}",
        f"Vg g 0 DC {gates[0]}",
        *devices,
    ]
    # A list sweep of the gate is not portable; sweep with a step and pick the gate values.
    step = float(np.min(np.diff(gates))) if gates.size > 1 else 0.01
    lines.append(f".dc Vd {start} {stop} {SWEEP_STEP_V} Vg {gates[0]} {gates[-1] + step / 4} {step}")
    data = run_ngspice("\n".join(lines), work_dir, vectors=["i(vd)", "v(g)"], name=role, timeout_s=timeout_s)
    drain = data["v-sweep"]
    n_drain = round((stop - start) / SWEEP_STEP_V) + 1
    current = data["i(vd)"].reshape(-1, n_drain)
    gate_values = data["v(g)"].reshape(-1, n_drain)[:, 0]
    drain = drain[:n_drain]
    # Current into the drain source: a sink (NMOS) draws current out of Vd's + node -> i(vd) < 0.
    current = -current if role != "pmos" else current
    picked = [int(np.argmin(np.abs(gate_values - g))) for g in gates]
    return drain, current[picked]


def sweep_curves(drain: np.ndarray, gates: np.ndarray, currents: np.ndarray) -> tuple[IVCurve, ...]:
    """The curves of one role's sweep: ``V_D [n]``, gate biases ``[g]``, ``I [g, n]`` -> one :class:`IVCurve`
    per gate bias, all on the sweep's V_D grid."""
    return tuple(IVCurve(float(gate), drain, row) for gate, row in zip(gates, currents, strict=True))


def fit_bias_table(curves: Sequence[IVCurve], v0: float, pmos: bool) -> BiasTable:
    """The :class:`BiasTable` of one role's curves (CIRCUIT.md, "Model ↔ circuit flow", step 1), one row per
    curve in the given order: the gate bias, the current at the curve's point nearest ``v0`` (the I0(V_G)
    table of the weight -> bias mapping) and the λ and R² of :func:`fit_channel_length_modulation` over all
    of the curve's points."""
    fits = [fit_channel_length_modulation(c.drain_v, c.current_a, v0, pmos) for c in curves]
    return BiasTable(
        gate_v=np.array([c.gate_v for c in curves], dtype=float),
        current_a=np.array([c.current_a[int(np.argmin(np.abs(c.drain_v - v0)))] for c in curves], dtype=float),
        lam=np.array([f[1] for f in fits]),
        r2=np.array([f[2] for f in fits]),
    )


def fit_characterization(
    curves: Mapping[str, Sequence[IVCurve]], config: CircuitConfig, c_eff_f: float
) -> tuple[dict[str, BiasTable], Characterization]:
    """The one fit of the characterisation, whatever the curves' origin (SPICE sweeps or a CSV file).

    Per role (:data:`ROLES`): the :class:`BiasTable` (:func:`fit_bias_table`); then λN, λP (means over the
    rows whose current at V0 lies in :data:`LAMBDA_CURRENT_RANGE` times the unit-weight current), λdis (the
    row at ``config.vb_dis``) and their R², from which :class:`Characterization` derives E+, E-, β_dis
    (Table 2). ``c_eff_f`` (F; NaN: not measured) is recorded as given. Returns the tables and the
    characterisation without its ``details``.
    """
    tables = {role: fit_bias_table(role_curves, config.v_rest, role == "pmos") for role, role_curves in curves.items()}
    return tables, _fitted(tables, config, c_eff_f)


def measure_effective_capacitance(
    config: CircuitConfig, library: Path, work_dir: Path, current_a: float = 100e-9
) -> float:
    """Effective membrane capacitance (F) of a neuron with ``layer_sizes[-2]`` synapses, all off.

    An ideal current source sinks ``current_a`` from the membrane during the accumulation window;
    ``C = I Δt / ΔV`` over its middle (1.2-1.8 µs for T = 1 µs). It includes the MIM capacitor, the
    wiring parasitic and the junction and overlap capacitances of every transistor on the node.
    """
    n_in = config.layer_sizes[-2]
    one = replace(config, layer_sizes=(n_in, 1))
    period = one.t_circ
    on = 1.1 * period
    netlist = build_network_netlist(
        one,
        [LayerBiases.off(1, n_in)],
        [math.inf] * n_in,
        library,
        title="effective capacitance",
        extra_lines=[f"Iceff mem_1_0 0 PWL(0 0 {on:.6g} 0 {on + one.edge_time:.6g} {current_a:.6g})"],
    )
    data = run_ngspice(netlist.text, work_dir, vectors=["v(mem_1_0)"], name="c_eff", timeout_s=600.0)
    t_a, t_b = 1.2 * period, 1.8 * period
    v_a, v_b = np.interp([t_a, t_b], data["time"], data["v(mem_1_0)"])
    return float(current_a * (t_b - t_a) / (v_a - v_b))


#: Currents (A) of the ideal source that sets v_end in the firing-ramp check: v_end ~ 0, 0.18, 0.36, 0.54.
RAMP_CHECK_CURRENTS_A = (0.0, 25e-9, 50e-9, 75e-9)


@dataclass(frozen=True)
class RampRun:
    """One firing-ramp transient (:func:`ramp_run`): ``v_end`` (normalised), the circuit's firing time
    (normalised to the firing window; None when it does not fire in the window), ``v_switch`` (V, the
    membrane voltage when the output spike crosses vdd/2; None when it does not fire) and ``v_window_end``
    (V, the membrane voltage at the firing window's end: how low the discharger took it)."""

    v_end: float
    t_circuit: float | None
    v_switch: float | None
    v_window_end: float = math.nan


def ramp_run(config: CircuitConfig, library: Path, work_dir: Path, current_a: float, name: str = "ramp") -> RampRun:
    """The firing phase of one neuron (synapses off) after an ideal current source sank ``current_a`` (A) over
    ``[1.2 T, 1.8 T]`` of its accumulation window (CIRCUIT.md, "Timing"; the firing-ramp check)."""
    from .runner import crossing_time

    n_in = config.layer_sizes[-2]
    one = replace(config, layer_sizes=(n_in, 1))
    period, edge = one.t_circ, one.edge_time
    on, off = 1.2 * period, 1.8 * period
    source = (
        f"Iramp mem_1_0 0 PWL(0 0 {on:.6g} 0 {on + edge:.6g} {current_a:.6g} "
        f"{off:.6g} {current_a:.6g} {off + edge:.6g} 0)"
    )
    netlist = build_network_netlist(
        one, [LayerBiases.off(1, n_in)], [math.inf] * n_in, library, title="firing ramp", extra_lines=[source]
    )
    data = run_ngspice(netlist.text, work_dir, vectors=["v(mem_1_0)", "v(spike_1_0)"], name=name, timeout_s=600.0)
    time_s, mem = data["time"], data["v(mem_1_0)"]
    v_end = -(float(np.interp(2 * period - 2 * edge, time_s, mem)) - one.v_rest) / one.vth_circ
    crossing = crossing_time(time_s, data["v(spike_1_0)"], one.vdd / 2, 2 * period, 3 * period)
    lowest = float(np.interp(3 * period - edge, time_s, mem))
    if not math.isfinite(crossing):
        return RampRun(v_end, None, None, lowest)
    return RampRun(v_end, (crossing - 2 * period) / period, float(np.interp(crossing, time_s, mem)), lowest)


def measure_firing_ramp(
    config: CircuitConfig,
    library: Path,
    work_dir: Path,
    beta_dis: float,
    currents_a: tuple[float, ...] = RAMP_CHECK_CURRENTS_A,
) -> list[dict[str, float]]:
    """Firing phase of one neuron against the model's ramp, at a few end-of-accumulation potentials.

    Synapses off; an ideal current source sinks ``current`` over ``[1.2 T, 1.8 T]`` of the accumulation
    window, which sets ``v_end`` (read from the membrane at the window's end); then the discharger
    ramps the membrane down through the sensing inverter's switching point. Per run: ``v_end``, the
    circuit's firing time (normalised; ``None`` when it does not fire in the window), the model's
    ``1 - ln(1 - β_dis v_end) / ln(1 - β_dis)`` and ``v_switch``, the membrane voltage when the
    output spike crosses ``vdd / 2`` (the threshold the extracted spike times see, delays included;
    the design target is ``config.v_switch``).
    """
    import torch

    from ..functional import rc_spike_fire

    rows = []
    for k, current in enumerate(currents_a):
        run = ramp_run(config, library, work_dir, current, name=f"ramp{k}")
        model = float(rc_spike_fire(torch.tensor(run.v_end, dtype=torch.float64), beta_dis=beta_dis))
        rows.append({"v_end": run.v_end, "t_circuit": run.t_circuit, "t_model": model, "v_switch": run.v_switch})
    return rows


#: The range (V) the calibration searches for the discharger's bias (:func:`trim_discharger_bias`).
VB_DIS_TRIM_RANGE_V = (0.40, 0.80)
#: The calibration's criterion: the neuron without input (v_end = 0) fires in the last ``TRIM_WINDOW_S`` of its
#: firing window, i.e. at the model's t = 1 to within this (the hand trim of the tt design: -0.6 ns).
TRIM_WINDOW_S = 1e-9
#: The calibration's resolution (V): Vb_dis is trimmed on this grid (the hand trim's 0.1 mV, tenfold finer).
TRIM_RESOLUTION_V = 1e-5


class DischargerTrimError(ValueError):
    """No discharger bias in :data:`VB_DIS_TRIM_RANGE_V` makes the neuron without input fire at the end of its
    firing window (the message names the corner, the temperature and what was tried)."""


@dataclass(frozen=True)
class DischargerTrim:
    """The calibration of ``Vb_dis`` at one corner and temperature (:func:`trim_discharger_bias`).

    ``start_vb_dis``: the bias it started from (the config's); ``vb_dis``: the trimmed bias (V);
    ``t_circuit``: the firing time (normalised) of the neuron without input at ``vb_dis``; ``evaluations``:
    every ``(Vb_dis [V], t_circuit or None)`` tried, in order; ``vb_sense`` (V): the sensing inverter's bias the
    trim ran at (None: not recorded, files made before the Vb_sense trim).
    """

    corner: str
    temperature_c: float
    start_vb_dis: float
    vb_dis: float
    t_circuit: float
    evaluations: tuple[tuple[float, float | None], ...]
    t_circ_s: float
    vb_sense: float | None = None

    @property
    def trimmed(self) -> bool:
        return self.vb_dis != self.start_vb_dis

    @property
    def error_ns(self) -> float:
        """The firing time at ``vb_dis`` minus the model's t = 1, ns."""
        return (self.t_circuit - 1.0) * self.t_circ_s * 1e9

    def to_dict(self) -> dict[str, Any]:
        return {
            "corner": self.corner,
            "temperature_c": self.temperature_c,
            "design_vb_dis": CircuitConfig.__dataclass_fields__["vb_dis"].default,
            "start_vb_dis": self.start_vb_dis,
            "vb_dis": self.vb_dis,
            "trimmed": self.trimmed,
            "t_circuit": self.t_circuit,
            "error_ns": self.error_ns,
            "evaluations": [{"vb_dis": vb, "t_circuit": t} for vb, t in self.evaluations],
            **({"vb_sense": self.vb_sense} if self.vb_sense is not None else {}),
            "t_circ_s": self.t_circ_s,
            "criterion": "the neuron without input (synapses off, v_end = 0) fires in the last "
            f"{TRIM_WINDOW_S * 1e9:g} ns of its firing window (the model's t = 1: the paper's 'no firing without "
            "input' criterion for Vb_dis); "
            "the start bias is kept when it meets it, else bisection (regula falsi when both ends fire) over "
            f"{VB_DIS_TRIM_RANGE_V[0]:g}-{VB_DIS_TRIM_RANGE_V[1]:g} V on a {TRIM_RESOLUTION_V * 1e3:g} mV grid",
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], t_circ_s: float = 1e-6) -> DischargerTrim:
        """The trim of a :meth:`to_dict` (``characterization.json``'s ``discharger_trim``); ``t_circ_s`` (s) for
        records that lack it (made before it was recorded)."""
        return cls(
            corner=str(data["corner"]), temperature_c=float(data["temperature_c"]),
            start_vb_dis=float(data["start_vb_dis"]), vb_dis=float(data["vb_dis"]),
            t_circuit=float(data["t_circuit"]),
            evaluations=tuple((float(e["vb_dis"]), _optional_float(e["t_circuit"])) for e in data["evaluations"]),
            t_circ_s=float(data.get("t_circ_s", t_circ_s)), vb_sense=_optional_float(data.get("vb_sense")),
        )  # fmt: skip


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _search_on_grid(
    measure: Callable[[float], float | None],
    score: Callable[[float | None], float],
    meets: Callable[[float | None], bool],
    start: tuple[float, float | None],
    first_step: float,
    limits: tuple[float, float],
    may_continue: Callable[[], bool],
    at_limit: Callable[[float, float | None], Exception],
) -> tuple[tuple[float, float] | None, tuple[tuple[float, float | None], tuple[float, float | None]]]:
    """A bias trim's search: from the measured ``start`` (which does not meet the criterion), steps that double
    from ``first_step`` towards the target (up where ``score > 0``: the score falls as the bias rises) until a
    measurement meets the criterion or the score changes sign, then :func:`_refine_on_grid` in that bracket.
    Raises ``at_limit(bias, measurement)`` when a step reaches a limit of the range without the sign changing.
    Returns what :func:`_refine_on_grid` does (a bias that meets the criterion at once: with its own bracket)."""
    low_limit, high_limit = limits
    up = score(start[1]) > 0
    step, (near, near_value) = first_step, start
    while True:
        far = round(min(high_limit, near + step) if up else max(low_limit, near - step), 5)
        far_value = measure(far)
        if meets(far_value):
            return (far, far_value), ((near, near_value), (far, far_value))  # type: ignore[return-value]
        if (score(far_value) > 0) != up:
            break
        if far in limits:
            raise at_limit(far, far_value)
        near, near_value, step = far, far_value, step * 2
    bracket = sorted([(near, near_value), (far, far_value)])
    return _refine_on_grid(measure, score, meets, bracket, may_continue)


def _refine_on_grid(
    measure: Callable[[float], float | None],
    score: Callable[[float | None], float],
    meets: Callable[[float | None], bool],
    bracket: list[tuple[float, float | None]],
    may_continue: Callable[[], bool],
) -> tuple[tuple[float, float] | None, tuple[tuple[float, float | None], tuple[float, float | None]]]:
    """A bias trim's search inside a bracket, on the :data:`TRIM_RESOLUTION_V` grid.

    ``bracket``: ``[(low bias, its measurement), (high bias, its measurement)]`` with ``score > 0`` at the low
    end and ``< 0`` at the high end (``±inf`` where nothing was measured, e.g. no spike). Regula falsi on the
    score while both ends are finite (Illinois: the end kept twice has its score halved), bisection
    otherwise, until a measurement ``meets`` the criterion, the bracket is one grid step wide or
    ``may_continue()`` says no. Returns ``((bias, measurement), bracket)`` when found, else ``(None, the final
    bracket)`` (for the error message).
    """
    (lo, m_lo), (hi, m_hi) = bracket
    f_lo, f_hi = score(m_lo), score(m_hi)
    last_side = 0
    while may_continue() and hi - lo > 1.5 * TRIM_RESOLUTION_V:
        finite = math.isfinite(f_lo) and math.isfinite(f_hi)
        mid = lo + (hi - lo) * f_lo / (f_lo - f_hi) if finite else (lo + hi) / 2
        mid = round(mid / TRIM_RESOLUTION_V) * TRIM_RESOLUTION_V
        mid = min(max(mid, lo + TRIM_RESOLUTION_V), hi - TRIM_RESOLUTION_V)
        m_mid = measure(mid)
        if meets(m_mid):
            return (mid, m_mid), ((lo, m_lo), (hi, m_hi))  # type: ignore[return-value]
        f_mid = score(m_mid)
        if f_mid > 0:
            lo, m_lo, f_lo = mid, m_mid, f_mid
            f_hi = f_hi / 2 if last_side == 1 else f_hi
            last_side = 1
        else:
            hi, m_hi, f_hi = mid, m_mid, f_mid
            f_lo = f_lo / 2 if last_side == -1 else f_lo
            last_side = -1
    return None, ((lo, m_lo), (hi, m_hi))


def trim_discharger_bias(
    config: CircuitConfig,
    library: Path | None = None,
    work_dir: Path | None = None,
    max_evaluations: int = 30,
    first_step_v: float = 0.02,
) -> DischargerTrim:
    """Trim ``Vb_dis`` for the config's corner and temperature (VARIATION.md section 1; the discharger's current
    depends on both, the model's ramp does not).

    Criterion (:data:`TRIM_WINDOW_S`): the neuron without input fires in the last nanosecond of its firing window,
    where the model's ramp ends (t = 1). ``config.vb_dis`` is kept when it meets it (the tt design at 27 °C does);
    otherwise the bias is bracketed (steps of ``first_step_v``, 20 mV, doubling, within :data:`VB_DIS_TRIM_RANGE_V`)
    and bisected
    (regula falsi, Illinois, while both ends fire) to the middle of that window. A neuron that does not fire in
    the window counts as too late. Raises :class:`DischargerTrimError` when no bias in the range meets the
    criterion. One one-neuron transient per evaluation (about 0.3 s each).
    """
    library = library if library is not None else model_library(corner=config.corner)
    window = TRIM_WINDOW_S / config.t_circ
    target = 1.0 - window / 2
    low_limit, high_limit = VB_DIS_TRIM_RANGE_V
    evaluations: list[tuple[float, float | None]] = []
    where = f"corner {config.corner} at {config.temperature:g} °C"

    def firing_time(vb: float, folder: Path) -> float | None:
        run = ramp_run(replace(config, vb_dis=vb), library, folder, 0.0, name=f"trim{len(evaluations)}")
        evaluations.append((vb, run.t_circuit))
        return run.t_circuit

    def lateness(t: float | None) -> float:  # > 0: fires too late (or not at all), < 0: too early
        return math.inf if t is None else t - target

    def result(vb: float, t: float) -> DischargerTrim:
        return DischargerTrim(
            config.corner, config.temperature, config.vb_dis, vb, t, tuple(evaluations), config.t_circ,
            config.vb_sense,
        )  # fmt: skip

    def meets(t: float | None) -> bool:
        return t is not None and 1.0 - window <= t <= 1.0

    with contextlib.ExitStack() as stack:
        folder = work_dir if work_dir is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        start = round(config.vb_dis / TRIM_RESOLUTION_V) * TRIM_RESOLUTION_V
        t_start = firing_time(config.vb_dis, folder)
        if meets(t_start):
            return result(config.vb_dis, t_start)  # type: ignore[arg-type]
        late = lateness(t_start) > 0

        def at_limit(bias: float, t: float | None) -> Exception:
            return DischargerTrimError(_trim_failure(where, bias, t, late, evaluations, config))

        # t falls as the bias rises: lateness > 0 (late, or inf: no spike) below the target bias, < 0 above it
        found, ((lo, t_lo), (hi, t_hi)) = _search_on_grid(
            lambda vb: firing_time(vb, folder), lateness, meets, (start, t_start), first_step_v,
            (low_limit, high_limit), lambda: len(evaluations) < max_evaluations, at_limit,
        )  # fmt: skip
        if found is not None:
            return result(*found)
    raise DischargerTrimError(
        f"{where}: the calibration of Vb_dis found no bias between {lo:.5f} and {hi:.5f} V (after "
        f"{len(evaluations)} transients) at which the neuron without input fires in the last "
        f"{TRIM_WINDOW_S * 1e9:g} ns of its firing window: at {lo:.5f} V it fires "
        f"{_when(t_lo, config)}, at {hi:.5f} V {_when(t_hi, config)}; the firing time jumps there (check the "
        "sensing inverter's switching point at this corner, v_switch_effective)"
    )


def _when(t: float | None, config: CircuitConfig) -> str:
    if t is None:
        return "not at all in its window"
    return f"at t = {t:.5f} ({(t - 1.0) * config.t_circ * 1e9:+.2f} ns from the window's end)"


def _trim_failure(
    where: str, bias: float, t: float | None, late: bool, evaluations: list[tuple[float, float | None]],
    config: CircuitConfig,
) -> str:  # fmt: skip
    tried = ", ".join(f"{vb:.4f} V: {'no spike' if tt is None else f'{(tt - 1) * config.t_circ * 1e9:+.1f} ns'}"
                      for vb, tt in evaluations)  # fmt: skip
    if late:
        what = (
            "the ramp neuron cannot fire: even at the range's top, Vb_dis = "
            f"{bias:.3f} V, the neuron without input fires {_when(t, config)}"
        )
    else:
        what = f"even at the range's bottom, Vb_dis = {bias:.3f} V, the neuron without input fires {_when(t, config)}"
    return (
        f"{where}: {what} (tried {tried}). No discharger bias in {VB_DIS_TRIM_RANGE_V[0]:g}-"
        f"{VB_DIS_TRIM_RANGE_V[1]:g} V makes it fire at the end of its firing window; this corner and temperature "
        "need another discharger size or sensing-inverter bias"
    )


#: The range (V) the calibration searches for the sensing inverter's bias (:func:`trim_sense_bias`): from its
#: PMOS load fully on (0 V) to nearly off (1.5 V, |V_GS| = 0.3 V).
VB_SENSE_TRIM_RANGE_V = (0.0, 1.5)
#: The sense calibration's criterion: the effective switching point within this (V) of ``config.v_switch``
#: (Table 2's Vswitch, 0.428 V); about 0.5 ns of firing-time error per mV (the untrimmed ss corner: 26 mV, 13 ns).
SENSE_TRIM_TOLERANCE_V = 1e-3
#: Current (A) of the ideal source that sets the sense calibration's probe neuron (:func:`trim_sense_bias`): v_end
#: about 0.78, its membrane starts the firing phase near 0.62 V, well above the target, so that the discharger
#: takes it across the switching point early in the window at any corner. The membrane's trajectory in the firing
#: phase depends on its voltage alone, so it crosses with the slope of the neuron without input (same v_switch).
SENSE_PROBE_CURRENT_A = 130e-9
#: The probe is valid when the discharger takes its membrane at least this far (V) below the target by the end of the
#: firing window (else :class:`SenseProbeError`: a crossing right at the window's end, or none, says nothing).
SENSE_PROBE_MARGIN_V = 0.1
#: Rounds of the joint calibration (:func:`trim_biases`): Vb_sense, then Vb_dis, until the switching point stays
#: within tolerance at the trimmed Vb_dis (it moves with the discharger's slope: about -0.9 mV per mV of Vb_dis).
MAX_TRIM_ROUNDS = 8
#: The first bracketing step (V) of both trims after the first round of :func:`trim_biases` (the biases move little).
LATER_ROUND_STEP_V = 0.005
#: The step (V) by which :func:`trim_biases` raises the sense probe's Vb_dis when the discharger is too slow for it.
PROBE_VB_DIS_STEP_V = 0.02


class SenseTrimError(ValueError):
    """No sensing-inverter bias in :data:`VB_SENSE_TRIM_RANGE_V` brings the effective switching point to the target,
    or the joint calibration does not settle (the message names the corner, the temperature and what was tried)."""


class SenseProbeError(SenseTrimError):
    """The discharger at the config's Vb_dis does not take the sense calibration's probe neuron below the target
    switching point within its firing window (:func:`trim_biases` then raises Vb_dis for the probe). ``evaluations``:
    the probe runs, as :class:`SenseTrim` records them."""

    def __init__(self, message: str, evaluations: tuple[tuple[float, float, float | None], ...]) -> None:
        super().__init__(message)
        self.evaluations = evaluations


@dataclass(frozen=True)
class SenseTrim:
    """The calibration of ``Vb_sense`` at one corner and temperature (:func:`trim_sense_bias`, :func:`trim_biases`).

    ``start_vb_sense``: the bias it started from (the config's); ``vb_sense``: the trimmed bias (V); ``v_switch``:
    the effective switching point there (V: the membrane voltage when the output spike crosses vdd/2), measured at
    the discharger bias ``vb_dis`` (V); ``target_v``: ``config.v_switch``; ``evaluations``: every ``(Vb_sense [V],
    Vb_dis [V], v_switch [V] or None)`` tried, in order (None: no spike in the window); ``rounds``: the rounds of
    :func:`trim_biases` (1 for a single :func:`trim_sense_bias`).
    """

    corner: str
    temperature_c: float
    start_vb_sense: float
    vb_sense: float
    v_switch: float
    vb_dis: float
    target_v: float
    evaluations: tuple[tuple[float, float, float | None], ...]
    rounds: int = 1

    @property
    def trimmed(self) -> bool:
        return self.vb_sense != self.start_vb_sense

    @property
    def error_mv(self) -> float:
        """The effective switching point at ``vb_sense`` minus the target, mV."""
        return (self.v_switch - self.target_v) * 1e3

    def to_dict(self) -> dict[str, Any]:
        return {
            "corner": self.corner,
            "temperature_c": self.temperature_c,
            "design_vb_sense": CircuitConfig.__dataclass_fields__["vb_sense"].default,
            "start_vb_sense": self.start_vb_sense,
            "vb_sense": self.vb_sense,
            "trimmed": self.trimmed,
            "v_switch": self.v_switch,
            "vb_dis": self.vb_dis,
            "target_v": self.target_v,
            "error_mv": self.error_mv,
            "rounds": self.rounds,
            "evaluations": [{"vb_sense": vs, "vb_dis": vd, "v_switch": v} for vs, vd, v in self.evaluations],
            "criterion": "the effective switching point (membrane voltage when the output spike crosses vdd/2) of a "
            f"probe neuron (v_end set by {SENSE_PROBE_CURRENT_A * 1e9:g} nA over the accumulation window, synapses "
            f"off) within {SENSE_TRIM_TOLERANCE_V * 1e3:g} mV of target_v (CIRCUIT.md Table 2's Vswitch); the start "
            "bias is kept when it meets it, else bracketing and regula falsi (bisection when one end does not fire) "
            f"over {VB_SENSE_TRIM_RANGE_V[0]:g}-{VB_SENSE_TRIM_RANGE_V[1]:g} V on a {TRIM_RESOLUTION_V * 1e3:g} mV "
            "grid; then Vb_dis is trimmed (discharger_trim) and the two repeated until the switching point holds at "
            "the trimmed Vb_dis",
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SenseTrim:
        """The trim of a :meth:`to_dict` (``characterization.json``'s ``sense_trim``)."""
        return cls(
            corner=str(data["corner"]), temperature_c=float(data["temperature_c"]),
            start_vb_sense=float(data["start_vb_sense"]), vb_sense=float(data["vb_sense"]),
            v_switch=float(data["v_switch"]), vb_dis=float(data["vb_dis"]), target_v=float(data["target_v"]),
            evaluations=tuple(
                (float(e["vb_sense"]), float(e["vb_dis"]), _optional_float(e["v_switch"])) for e in data["evaluations"]
            ),
            rounds=int(data.get("rounds", 1)),
        )  # fmt: skip


def trim_sense_bias(
    config: CircuitConfig,
    library: Path | None = None,
    work_dir: Path | None = None,
    max_evaluations: int = 30,
    first_step_v: float = 0.02,
) -> SenseTrim:
    """Trim ``Vb_sense`` at the config's corner, temperature and ``vb_dis`` so that the effective switching point is
    ``config.v_switch`` (CIRCUIT.md Table 2's Vswitch = 0.428 V, hence Vth_circ = V0 - Vswitch; VARIATION.md section
    1: the inverter's devices move with corner and temperature, the model's threshold does not).

    The switching point is measured as the characterisation measures ``v_switch_effective``: the membrane voltage
    when the output spike crosses vdd/2, here of a probe neuron (:data:`SENSE_PROBE_CURRENT_A`) ramped down by the
    discharger at ``config.vb_dis`` (the inverter's delay makes it depend on that slope). It falls as Vb_sense rises
    (a weaker PMOS load). ``config.vb_sense`` is kept when it is within :data:`SENSE_TRIM_TOLERANCE_V` (the tt design
    at 27 °C is); otherwise the bias is bracketed (steps of ``first_step_v``, 20 mV, doubling, within
    :data:`VB_SENSE_TRIM_RANGE_V`) and solved by regula falsi (Illinois; bisection while one end does not fire, a
    switching point below the membrane's reach). Raises :class:`SenseTrimError` when no bias in the range reaches
    the target (:class:`SenseProbeError` when the discharger does not take the probe below it). One one-neuron
    transient per evaluation (about 0.4 s each).
    """
    library = library if library is not None else model_library(corner=config.corner)
    target = config.v_switch
    low_limit, high_limit = VB_SENSE_TRIM_RANGE_V
    evaluations: list[tuple[float, float, float | None]] = []
    where = f"corner {config.corner} at {config.temperature:g} °C"

    def switching_point(vb: float, folder: Path) -> float | None:
        probe = replace(config, vb_sense=vb)
        run = ramp_run(probe, library, folder, SENSE_PROBE_CURRENT_A, name=f"sense{len(evaluations)}")
        evaluations.append((vb, config.vb_dis, run.v_switch))
        if run.v_window_end > target - SENSE_PROBE_MARGIN_V:
            raise SenseProbeError(
                f"{where}: the discharger at Vb_dis = {config.vb_dis:.5f} V takes the probe neuron's membrane only "
                f"down to {run.v_window_end:.3f} V by the end of its firing window, less than "
                f"{SENSE_PROBE_MARGIN_V * 1e3:g} mV below the target switching point {target:g} V; the sensing "
                "inverter cannot be trimmed at this discharger bias",
                tuple(evaluations),
            )
        return run.v_switch

    def excess(v: float | None) -> float:  # > 0: switches too high (early), < 0: too low (or not in the window)
        return -math.inf if v is None else v - target

    def meets(v: float | None) -> bool:
        return v is not None and abs(v - target) <= SENSE_TRIM_TOLERANCE_V

    def result(vb: float, v: float) -> SenseTrim:
        return SenseTrim(
            config.corner, config.temperature, config.vb_sense, vb, v, config.vb_dis, target, tuple(evaluations)
        )

    with contextlib.ExitStack() as stack:
        folder = work_dir if work_dir is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        start = round(config.vb_sense / TRIM_RESOLUTION_V) * TRIM_RESOLUTION_V
        v_start = switching_point(config.vb_sense, folder)
        if meets(v_start):
            return result(config.vb_sense, v_start)  # type: ignore[arg-type]

        def at_limit(bias: float, v: float | None) -> Exception:
            return SenseTrimError(_sense_failure(where, bias, v, evaluations, target))

        # v_switch falls as the bias rises (a weaker load): excess > 0 below the target bias, < 0 (or -inf: no
        # spike) above it
        found, ((lo, v_lo), (hi, v_hi)) = _search_on_grid(
            lambda vb: switching_point(vb, folder), excess, meets, (start, v_start), first_step_v,
            (low_limit, high_limit), lambda: len(evaluations) < max_evaluations, at_limit,
        )  # fmt: skip
        if found is not None:
            return result(*found)
    raise SenseTrimError(
        f"{where}: the calibration of Vb_sense found no bias between {lo:.5f} and {hi:.5f} V (after "
        f"{len(evaluations)} transients, Vb_dis = {config.vb_dis:.5f} V) with the effective switching point within "
        f"{SENSE_TRIM_TOLERANCE_V * 1e3:g} mV of {target:g} V: at {lo:.5f} V it is {_volts(v_lo)}, at {hi:.5f} V "
        f"{_volts(v_hi)}; the switching point jumps there"
    )


def _volts(v: float | None) -> str:
    return "below the membrane's reach (no spike in the window)" if v is None else f"{v:.4f} V"


def _sense_failure(
    where: str, bias: float, v: float | None, evaluations: list[tuple[float, float, float | None]], target: float
) -> str:
    tried = ", ".join(f"{vs:.3f} V: {'no spike' if vv is None else f'{vv:.3f} V'}" for vs, _, vv in evaluations)
    side = "top" if v is not None and v > target else "bottom"  # too high: the bias was raised, else lowered
    return (
        f"{where}: even at the range's {side}, Vb_sense = {bias:.3f} V, the effective switching point is "
        f"{_volts(v)}, not {target:g} V (tried {tried}, at Vb_dis = {evaluations[0][1]:.5f} V). No sensing-inverter "
        f"bias in {VB_SENSE_TRIM_RANGE_V[0]:g}-{VB_SENSE_TRIM_RANGE_V[1]:g} V reaches the target; this corner and "
        "temperature need other sensing-inverter sizes"
    )


def trim_biases(
    config: CircuitConfig, library: Path | None = None, work_dir: Path | None = None, max_rounds: int = MAX_TRIM_ROUNDS
) -> tuple[SenseTrim, DischargerTrim]:
    """Trim the sensing inverter's bias, then the discharger's, for the config's corner and temperature
    (VARIATION.md section 1; CIRCUIT.md Table 2: Vswitch = 0.428 V, and the neuron without input fires at the end
    of its firing window).

    Each round: :func:`trim_sense_bias` at the current Vb_dis, then :func:`trim_discharger_bias` at the trimmed
    Vb_sense. The switching point depends on the discharger's slope, so a round that moved Vb_dis is followed by
    another sense check at the new Vb_dis, until it holds there (two to four rounds; the tt design at 27 °C needs
    neither trim: two transients). Later rounds bracket from :data:`LATER_ROUND_STEP_V`. When the discharger at the
    config's Vb_dis is too slow for the sense probe (cold corners), the first round's probe runs at Vb_dis raised in
    steps of :data:`PROBE_VB_DIS_STEP_V`. Returns the sense trim (all rounds' evaluations, the config's start bias)
    and the last round's discharger trim (with the config's start bias, so ``trimmed`` compares against the
    design's).
    Raises :class:`SenseTrimError` or :class:`DischargerTrimError` when a trim fails, or when ``max_rounds`` do not
    settle.
    """
    library = library if library is not None else model_library(corner=config.corner)
    current = config
    evaluations: list[tuple[float, float, float | None]] = []
    discharger: DischargerTrim | None = None
    with contextlib.ExitStack() as stack:
        folder = work_dir if work_dir is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        rounds, step = 0, 0.02
        while True:
            rounds += 1
            try:
                sense = trim_sense_bias(current, library, folder, first_step_v=step)
            except SenseProbeError as error:  # the probe's ramp is too slow: a stronger discharger for the probe
                evaluations += error.evaluations
                faster = round(current.vb_dis + PROBE_VB_DIS_STEP_V, 5)
                if discharger is not None or faster > VB_DIS_TRIM_RANGE_V[1]:
                    raise
                current, rounds = replace(current, vb_dis=faster), rounds - 1
                continue
            evaluations += sense.evaluations
            current = replace(current, vb_sense=sense.vb_sense)
            if discharger is not None and not sense.trimmed:
                break  # the switching point holds at the trimmed Vb_dis
            discharger = trim_discharger_bias(current, library, folder, first_step_v=step)
            step = LATER_ROUND_STEP_V
            current = replace(current, vb_dis=discharger.vb_dis)
            if not discharger.trimmed:
                break  # the sense trim's probe ran at this very Vb_dis
            if rounds == max_rounds:
                raise SenseTrimError(
                    f"corner {config.corner} at {config.temperature:g} °C: the calibration of Vb_sense and Vb_dis did "
                    f"not settle in {max_rounds} rounds (last: Vb_sense = {current.vb_sense:.5f} V, Vb_dis = "
                    f"{current.vb_dis:.5f} V); the switching point keeps moving with the discharger's slope"
                )
    assert discharger is not None
    sense_trim = SenseTrim(
        config.corner, config.temperature, config.vb_sense, current.vb_sense, sense.v_switch, sense.vb_dis,
        config.v_switch, tuple(evaluations), rounds,
    )  # fmt: skip
    return sense_trim, replace(discharger, start_vb_dis=config.vb_dis)


def _role_curves(
    config: CircuitConfig, library: Path, work_dir: Path, role: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The DC sweep of one role: ``(V_D [n], gate biases [g], I [g, n])``.

    The discharger's gate grid also holds ``vb_dis`` itself (its own one-point sweep).
    """
    if role != "discharger":
        gates = _grid(*(NMOS_GATE_GRID_V if role == "nmos" else PMOS_GATE_GRID_V))
        drain, current = _sweep(config, library, work_dir, role, gates)
        return drain, gates, current
    drain, current = _sweep(config, library, work_dir, role, _grid(*DISCHARGER_GATE_GRID_V))
    _, at_bias = _sweep(config, library, work_dir, role, np.array([config.vb_dis]))
    gates = np.append(_grid(*DISCHARGER_GATE_GRID_V), config.vb_dis)
    order = np.argsort(gates, kind="stable")
    return drain, gates[order], np.vstack([current, at_bias])[order]


def _nearest_row(table: BiasTable, gate_v: float) -> int:
    return int(np.argmin(np.abs(table.gate_v - gate_v)))


def _fitted_lambda(tables: dict[str, BiasTable], role: str, config: CircuitConfig) -> tuple[float, float]:
    """``(λ, R²)`` of one role (NaN when not characterised): the mean λ over the table rows whose current
    at V0 lies in :data:`LAMBDA_CURRENT_RANGE` and their worst R² (synapses); the row at ``vb_dis``
    (discharger)."""
    if role not in tables:
        return math.nan, math.nan
    table = tables[role]
    if role == "discharger":
        k = _nearest_row(table, config.vb_dis)
        return float(table.lam[k]), float(table.r2[k])
    low, high = (f * config.unit_current for f in LAMBDA_CURRENT_RANGE)
    rows = (table.current_a >= low) & (table.current_a <= high)
    return float(np.mean(table.lam[rows])), float(np.min(table.r2[rows]))


def _fitted(tables: dict[str, BiasTable], config: CircuitConfig, c_eff: float) -> Characterization:
    """The characterisation of the fitted tables, without the details (the firing-ramp check needs its β_dis)."""
    (lam_n, r2_n), (lam_p, r2_p), (lam_dis, r2_dis) = (
        _fitted_lambda(tables, role, config) for role in ("nmos", "pmos", "discharger")
    )
    empty = BiasTable(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    discharger = tables.get("discharger", empty)
    dis_current = (
        float(discharger.current_a[_nearest_row(discharger, config.vb_dis)]) if discharger.gate_v.size else math.nan
    )
    return Characterization(
        lambda_n=lam_n, lambda_p=lam_p, lambda_dis=lam_dis, r2_n=r2_n, r2_p=r2_p, r2_dis=r2_dis,
        vth_circ=config.vth_circ, v_rest=config.v_rest, nmos=tables.get("nmos", empty),
        pmos=tables.get("pmos", empty), discharger=discharger, discharger_current_a=dis_current, c_eff_f=c_eff,
        details={},
    )  # fmt: skip


def fit_details(tables: dict[str, BiasTable], config: CircuitConfig) -> dict[str, Any]:
    """The fit's part of ``characterization.json``'s details: the fit range, the definitions of λ and R², and
    the reference points (the rows nearest V_G = 0.55 V NMOS, 1.2 V PMOS and ``vb_dis``; CIRCUIT.md)."""
    reference = {}
    for role, gate in (("nmos", 0.55), ("pmos", 1.2), ("discharger", config.vb_dis)):
        if role in tables:
            table = tables[role]
            k = _nearest_row(table, gate)
            reference[role] = {
                "gate_v": float(table.gate_v[k]), "current_a": float(table.current_a[k]),
                "lambda": float(table.lam[k]), "r2": float(table.r2[k]),
            }  # fmt: skip
    return {
        "fit_range_v": list(FIT_RANGE_V),
        "lambda_current_range_a": [f * config.unit_current for f in LAMBDA_CURRENT_RANGE],
        "lambda_definition": "mean of the per-bias λ over the table rows whose current at V0 lies in "
        "lambda_current_range_a (NMOS, PMOS); λ at vb_dis (discharger)",
        "r2_definition": "worst R² of the linear fits averaged into λ",
        "reference_points": reference,
    }


def _details(
    tables: dict[str, BiasTable],
    config: CircuitConfig,
    c_eff: float,
    ramp: list[dict[str, float]],
    trim: DischargerTrim | None = None,
    sense_trim: SenseTrim | None = None,
) -> dict[str, Any]:
    """What ``characterization.json`` records besides the fits: definitions, reference points, the checks, the
    corner and temperature and the calibrations of Vb_sense and Vb_dis (``sense_trim``, ``discharger_trim``; null
    when not run)."""
    switch_points = [row["v_switch"] for row in ramp if row["v_switch"] is not None]
    v_switch = float(np.mean(switch_points)) if switch_points else math.nan
    return {
        "corner": config.corner,
        "temperature_c": config.temperature,
        "vb_dis": config.vb_dis,
        "vb_sense": config.vb_sense,
        "discharger_trim": trim.to_dict() if trim is not None else None,
        "sense_trim": sense_trim.to_dict() if sense_trim is not None else None,
        **fit_details(tables, config),
        "selector_in_series": True,
        "c_eff_over_c_m": c_eff / config.c_m if math.isfinite(c_eff) else None,
        "v_switch_effective": v_switch if math.isfinite(v_switch) else None,
        "v_switch_definition": "mean membrane voltage (V) when the output spike crosses vdd/2 in the "
        "firing_ramp runs (design target: config.v_switch)",
        "firing_ramp": ramp,
        "firing_ramp_definition": "one neuron, synapses off, v_end set by an ideal current source: the "
        "circuit's firing time against the model's ramp with beta_dis",
        "config": config.to_dict(),
        "versions": _versions(),
    }


def characterize(
    out_dir: Path | str | None = None,
    config: CircuitConfig | None = None,
    *,
    roles: tuple[str, ...] = ("nmos", "pmos", "discharger"),
    measure_capacitance: bool = True,
    plot: bool = True,
    trim_discharger: bool = True,
    mismatch: MismatchOptions | None = None,
    trim_sense: bool = True,
) -> Characterization:
    """Characterise the devices at the config's corner and temperature; write ``out_dir/characterization.json``
    and ``iv_curves.png``.

    Returns the :class:`Characterization` (what the JSON holds). ``roles`` may be narrowed for quick
    checks; then the missing λ are NaN and nothing is written. ``measure_capacitance`` also runs the
    neuron transients: the effective membrane capacitance (``c_eff_f``) and the firing-ramp check
    (``firing_ramp``, ``v_switch_effective``). Runs in about two seconds (ngspice with one thread).

    ``trim_sense`` and ``trim_discharger`` (with the transients): first calibrate Vb_sense (the effective switching
    point to Table 2's 0.428 V), then Vb_dis (the neuron without input fires at its window's end) for the corner and
    temperature (:func:`trim_biases`; either alone: :func:`trim_sense_bias`, :func:`trim_discharger_bias`;
    VARIATION.md section 1). Everything is then measured at the trimmed biases, which ``config``, ``sense_trim`` and
    ``discharger_trim`` record (a :class:`SenseTrimError` or :class:`DischargerTrimError` when no bias reaches its
    criterion). ``mismatch``: also the Monte-Carlo DC statistics of :func:`.mismatch.measure_mismatch`
    (``Characterization.mismatch``; about half a minute per 200 instances).
    """
    config = config or CircuitConfig()
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; choose from nmos, pmos, discharger")
    if out_dir is not None:
        check_output_folder(out_dir, "out_dir")  # a file, or a folder that cannot be made, fails before the sweeps
    library = model_library(corner=config.corner)
    # removed however the sweeps end (an error, a timeout, KeyboardInterrupt)
    with tempfile.TemporaryDirectory(prefix="imcpnn_characterize_") as folder:
        work = Path(folder)
        trim, sense_trim = None, None
        transients = measure_capacitance and "discharger" in roles
        if transients and trim_sense and trim_discharger:
            sense_trim, trim = trim_biases(config, library, work)
        elif transients and trim_sense:
            sense_trim = trim_sense_bias(config, library, work)
        elif transients and trim_discharger:
            trim = trim_discharger_bias(config, library, work)
        if sense_trim is not None:
            config = replace(config, vb_sense=sense_trim.vb_sense)
        if trim is not None:
            config = replace(config, vb_dis=trim.vb_dis)
        curves = {role: _role_curves(config, library, work, role) for role in roles}
        c_eff = measure_effective_capacitance(config, library, work) if measure_capacitance else math.nan
        tables, fitted = fit_characterization(
            {role: sweep_curves(*sweep) for role, sweep in curves.items()}, config, c_eff
        )
        ramp: list[dict[str, float]] = []
        if measure_capacitance and "discharger" in tables:
            ramp = measure_firing_ramp(config, library, work, fitted.beta_dis)
        statistics = None
        if mismatch is not None:
            from .mismatch import measure_mismatch

            statistics = measure_mismatch(config, tables, mismatch)
    result = replace(fitted, details=_details(tables, config, c_eff, ramp, trim, sense_trim), mismatch=statistics)
    if out_dir is not None and set(roles) == set(ROLES):
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "characterization.json", result.to_dict(), indent=1, default=None)
        if plot:
            plot_iv_curves(curves, tables, config, out / "iv_curves.png")
    return result


def measure_iv_curves(
    config: CircuitConfig | None = None, roles: tuple[str, ...] = ROLES
) -> dict[str, tuple[IVCurve, ...]]:
    """The DC sweeps of :func:`characterize` alone, one :class:`IVCurve` per role and gate bias, without the
    fits or the neuron transients (to export them, e.g. with :func:`~.iv_csv.write_iv_csv`)."""
    config = config or CircuitConfig()
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; choose from nmos, pmos, discharger")
    library = model_library(corner=config.corner)
    with tempfile.TemporaryDirectory(prefix="imcpnn_iv_curves_") as folder:
        return {role: sweep_curves(*_role_curves(config, library, Path(folder), role)) for role in roles}


def _versions() -> dict[str, str]:
    versions = {}
    try:
        versions["sky130"] = metadata.version("sky130")
    except metadata.PackageNotFoundError:
        versions["sky130"] = "unknown"
    try:
        import subprocess

        from .spice import find_ngspice

        out = subprocess.run([find_ngspice(), "-v"], capture_output=True, text=True, timeout=10, check=False)
        line = next((ln for ln in out.stdout.splitlines() if "ngspice-" in ln), "")
        versions["ngspice"] = line.strip(" *")
    except (OSError, subprocess.SubprocessError):
        versions["ngspice"] = "unknown"
    return versions
