"""Device characterisation: DC sweeps, channel-length-modulation fits, I0(V_G) tables, E± and β_dis.

Three transistor roles, each swept over the membrane range at many gate biases (paper Fig. 17, 20):

- NMOS synapse: the memory ``nfet_01v8`` (W/L of the synapse) with its drain on the membrane and
  its selector (gate at vdd, on) in series to ground, exactly as in the circuit; the selector drops
  well under a millivolt, so this is the memory transistor's own characteristic to within 0.5 %.
- PMOS synapse: the memory ``pfet_01v8`` with its selector (gate at 0 V) in series to vdd.
- Discharger: the ``nfet_01v8`` biased at ``vb_dis`` with its phase switch on, in series to ground.

Each I-V curve is fitted with ``I = I0 (1 + λ ΔV)`` over the fit range (0.43-1.36 V); the λ, the
tables and the derived ``E±``, ``β_dis`` are a :class:`~.characterization.Characterization`.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_json
from ..outdir import check_output_folder
from .characterization import LAMBDA_CURRENT_RANGE, BiasTable, Characterization, fit_channel_length_modulation
from .config import CircuitConfig
from .netlist import NFET, PFET, LayerBiases, build_network_netlist, include_line, mosfet
from .plots import plot_iv_curves
from .spice import model_library, run_ngspice

FIT_RANGE_V = (0.43, 1.36)  # V, membrane range of the fits (paper Fig. 17, 20)
SWEEP_STEP_V = 0.01  # V, drain step of the sweeps
NMOS_GATE_GRID_V = (0.20, 0.80, 0.01)  # start, stop, step (V): the weight -> bias table
PMOS_GATE_GRID_V = (0.90, 1.60, 0.01)
DISCHARGER_GATE_GRID_V = (0.45, 0.65, 0.01)


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


def _table(drain: np.ndarray, currents: np.ndarray, gates: np.ndarray, v0: float, pmos: bool) -> BiasTable:
    at_v0 = int(np.argmin(np.abs(drain - v0)))
    fits = [fit_channel_length_modulation(drain, row, v0, pmos) for row in currents]
    return BiasTable(
        gate_v=gates.astype(float),
        current_a=currents[:, at_v0].astype(float),
        lam=np.array([f[1] for f in fits]),
        r2=np.array([f[2] for f in fits]),
    )


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
    from .runner import crossing_time

    n_in = config.layer_sizes[-2]
    one = replace(config, layer_sizes=(n_in, 1))
    period, edge = one.t_circ, one.edge_time
    on, off = 1.2 * period, 1.8 * period
    rows = []
    for k, current in enumerate(currents_a):
        source = (
            f"Iramp mem_1_0 0 PWL(0 0 {on:.6g} 0 {on + edge:.6g} {current:.6g} "
            f"{off:.6g} {current:.6g} {off + edge:.6g} 0)"
        )
        netlist = build_network_netlist(
            one, [LayerBiases.off(1, n_in)], [math.inf] * n_in, library, title="firing ramp", extra_lines=[source]
        )
        data = run_ngspice(
            netlist.text, work_dir, vectors=["v(mem_1_0)", "v(spike_1_0)"], name=f"ramp{k}", timeout_s=600.0
        )
        time_s, mem = data["time"], data["v(mem_1_0)"]
        v_end = -(float(np.interp(2 * period - 2 * edge, time_s, mem)) - one.v_rest) / one.vth_circ
        crossing = crossing_time(time_s, data["v(spike_1_0)"], one.vdd / 2, 2 * period, 3 * period)
        fired = math.isfinite(crossing)
        model = float(rc_spike_fire(torch.tensor(v_end, dtype=torch.float64), beta_dis=beta_dis))
        rows.append(
            {
                "v_end": v_end,
                "t_circuit": (crossing - 2 * period) / period if fired else None,
                "t_model": model,
                "v_switch": float(np.interp(crossing, time_s, mem)) if fired else None,
            }
        )
    return rows


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


def _details(
    tables: dict[str, BiasTable], config: CircuitConfig, c_eff: float, ramp: list[dict[str, float]]
) -> dict[str, Any]:
    """What ``characterization.json`` records besides the fits: definitions, reference points, the checks."""
    switch_points = [row["v_switch"] for row in ramp if row["v_switch"] is not None]
    v_switch = float(np.mean(switch_points)) if switch_points else math.nan
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
) -> Characterization:
    """Characterise the devices; write ``out_dir/characterization.json`` and ``iv_curves.png``.

    Returns the :class:`Characterization` (what the JSON holds). ``roles`` may be narrowed for quick
    checks; then the missing λ are NaN and nothing is written. ``measure_capacitance`` also runs the
    neuron transients: the effective membrane capacitance (``c_eff_f``) and the firing-ramp check
    (``firing_ramp``, ``v_switch_effective``). Runs in about two seconds (ngspice with one thread).
    """
    config = config or CircuitConfig()
    unknown = set(roles) - {"nmos", "pmos", "discharger"}
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; choose from nmos, pmos, discharger")
    if out_dir is not None:
        check_output_folder(out_dir, "out_dir")  # a file, or a folder that cannot be made, fails before the sweeps
    library = model_library(corner=config.corner)
    # removed however the sweeps end (an error, a timeout, KeyboardInterrupt)
    with tempfile.TemporaryDirectory(prefix="imcpnn_characterize_") as folder:
        work = Path(folder)
        curves = {role: _role_curves(config, library, work, role) for role in roles}
        c_eff = measure_effective_capacitance(config, library, work) if measure_capacitance else math.nan
        tables = {role: _table(d, i, g, config.v_rest, role == "pmos") for role, (d, g, i) in curves.items()}
        fitted = _fitted(tables, config, c_eff)
        ramp: list[dict[str, float]] = []
        if measure_capacitance and "discharger" in tables:
            ramp = measure_firing_ramp(config, library, work, fitted.beta_dis)
    result = replace(fitted, details=_details(tables, config, c_eff, ramp))
    if out_dir is not None and set(roles) == {"nmos", "pmos", "discharger"}:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "characterization.json", result.to_dict(), indent=1, default=None)
        if plot:
            plot_iv_curves(curves, tables, config, out / "iv_curves.png")
    return result


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
