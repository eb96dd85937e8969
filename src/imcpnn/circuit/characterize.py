"""Device characterisation: DC sweeps, channel-length-modulation fits, I0(V_G) tables, E± and β_dis.

Three transistor roles, each swept over the membrane range at many gate biases (paper Fig. 17, 20):

- NMOS synapse: the memory ``nfet_01v8`` (W/L of the synapse) with its drain on the membrane and
  its selector (gate at vdd, on) in series to ground, exactly as in the circuit; the selector drops
  well under a millivolt, so this is the memory transistor's own characteristic to within 0.5 %.
- PMOS synapse: the memory ``pfet_01v8`` with its selector (gate at 0 V) in series to vdd.
- Discharger: the ``nfet_01v8`` biased at ``vb_dis`` with its phase switch on, in series to ground.

Each I-V curve is fitted with ``I = I0 (1 + λ ΔV)`` over the fit range (0.43-1.36 V), where
``ΔV = V - V0`` for the NMOS roles and ``ΔV = V0 - V`` for the PMOS (so that λ > 0 for all).
Then ``E+ = 1 / (Vth_circ λN)``, ``E- = -1 / (Vth_circ λP)``, ``β_dis = Vth_circ λdis``.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import save_figure, write_json
from .config import CircuitConfig
from .netlist import NFET, PFET, LayerBiases, build_network_netlist, mosfet
from .spice import model_library, run_ngspice

FIT_RANGE_V = (0.43, 1.36)  # V, membrane range of the fits (paper Fig. 17, 20)
SWEEP_STEP_V = 0.01  # V, drain step of the sweeps
NMOS_GATE_GRID_V = (0.20, 0.80, 0.01)  # start, stop, step (V): the weight -> bias table
PMOS_GATE_GRID_V = (0.90, 1.60, 0.01)
DISCHARGER_GATE_GRID_V = (0.45, 0.65, 0.01)
#: λN and λP are averaged over the table rows whose current at V0 lies in this range, in units of
#: the unit-weight current C_m Vth_circ / T_circ (122 nA): the currents trained weights use.
LAMBDA_CURRENT_RANGE = (0.05, 1.0)
PLOT_GATES_V = {"nmos": (0.40, 0.45, 0.50, 0.55, 0.60, 0.65), "pmos": (1.05, 1.10, 1.15, 1.20, 1.25, 1.30)}


@dataclass(frozen=True)
class BiasTable:
    """Per gate bias: current at V0 (A), fitted λ (1/V) and R² of the linear fit."""

    gate_v: np.ndarray
    current_a: np.ndarray
    lam: np.ndarray
    r2: np.ndarray

    def to_dict(self) -> dict[str, list[float]]:
        return {"gate_v": self.gate_v.round(6).tolist(), "current_a": self.current_a.tolist(),
                "lambda": self.lam.round(6).tolist(), "r2": self.r2.round(8).tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, list[float]]) -> BiasTable:
        return cls(*(np.asarray(data[k], dtype=float) for k in ("gate_v", "current_a", "lambda", "r2")))

    def gate_for_current(self, current_a: np.ndarray | float) -> np.ndarray:
        """Gate bias (V) giving ``current_a`` (A, > 0) at V0, by monotone (PCHIP) interpolation in log I."""
        from scipy.interpolate import PchipInterpolator

        current = np.asarray(current_a, dtype=float)
        order = np.argsort(self.current_a)
        log_i, gate = np.log(self.current_a[order]), self.gate_v[order]
        keep = np.concatenate([[True], np.diff(log_i) > 1e-9])  # strictly increasing for PCHIP
        log_i, gate = log_i[keep], gate[keep]
        low, high = float(np.exp(log_i[0])), float(np.exp(log_i[-1]))
        bad = (current < low) | (current > high) | ~np.isfinite(current)
        if bad.any():
            worst = current[bad].flat[0]
            raise ValueError(
                f"current {worst:.4g} A is outside the characterised range [{low:.3g}, {high:.3g}] A; "
                "use smaller weights or scales, or widen the gate grid of the characterisation"
            )
        return PchipInterpolator(log_i, gate)(np.log(current))


@dataclass(frozen=True)
class Characterization:
    """The fitted non-idealities and the weight -> bias tables (what ``characterization.json`` holds)."""

    lambda_n: float  # 1/V
    lambda_p: float
    lambda_dis: float
    r2_n: float  # worst R² over the rows averaged into λ
    r2_p: float
    r2_dis: float
    vth_circ: float  # V
    v_rest: float  # V
    nmos: BiasTable
    pmos: BiasTable
    discharger: BiasTable
    discharger_current_a: float  # A, discharger current at V0 and vb_dis
    c_eff_f: float  # F, effective membrane capacitance measured in transient (NaN if not measured)
    details: dict[str, Any]

    @property
    def e_rev_pos(self) -> float:
        return 1.0 / (self.vth_circ * self.lambda_n)

    @property
    def e_rev_neg(self) -> float:
        return -1.0 / (self.vth_circ * self.lambda_p)

    @property
    def e_dis(self) -> float:
        return 1.0 / (self.vth_circ * self.lambda_dis)

    @property
    def beta_dis(self) -> float:
        return self.vth_circ * self.lambda_dis

    def to_dict(self) -> dict[str, Any]:
        return {
            "lambda_n": self.lambda_n, "lambda_p": self.lambda_p, "lambda_dis": self.lambda_dis,
            "r2": {"nmos": self.r2_n, "pmos": self.r2_p, "discharger": self.r2_dis},
            "e_rev_pos": self.e_rev_pos, "e_rev_neg": self.e_rev_neg, "e_dis": self.e_dis,
            "beta_dis": self.beta_dis, "vth_circ": self.vth_circ, "v_rest": self.v_rest,
            "discharger_current_a": self.discharger_current_a, "c_eff_f": self.c_eff_f,
            "tables": {"nmos": self.nmos.to_dict(), "pmos": self.pmos.to_dict(),
                       "discharger": self.discharger.to_dict()},
            **self.details,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Characterization:
        known = {"lambda_n", "lambda_p", "lambda_dis", "r2", "e_rev_pos", "e_rev_neg", "e_dis", "beta_dis",
                 "vth_circ", "v_rest", "discharger_current_a", "c_eff_f", "tables"}
        return cls(
            lambda_n=float(data["lambda_n"]), lambda_p=float(data["lambda_p"]),
            lambda_dis=float(data["lambda_dis"]), r2_n=float(data["r2"]["nmos"]),
            r2_p=float(data["r2"]["pmos"]), r2_dis=float(data["r2"]["discharger"]),
            vth_circ=float(data["vth_circ"]), v_rest=float(data["v_rest"]),
            nmos=BiasTable.from_dict(data["tables"]["nmos"]), pmos=BiasTable.from_dict(data["tables"]["pmos"]),
            discharger=BiasTable.from_dict(data["tables"]["discharger"]),
            discharger_current_a=float(data["discharger_current_a"]),
            c_eff_f=float(data["c_eff_f"]) if data.get("c_eff_f") is not None else math.nan,
            details={k: v for k, v in data.items() if k not in known},
        )

    @classmethod
    def load(cls, path: Path | str) -> Characterization:
        """Read a ``characterization.json`` written by :func:`characterize`."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist; run `imcpnn circuit characterize --out {path.parent}`")
        return cls.from_dict(json.loads(path.read_text()))


def fit_channel_length_modulation(
    drain_v: np.ndarray, current_a: np.ndarray, v0: float, pmos: bool
) -> tuple[float, float, float]:
    """Least-squares ``I = I0 (1 + λ ΔV)``: returns ``(I0 [A], λ [1/V], R²)``.

    ``ΔV = V - V0`` (NMOS: the current grows with the drain voltage) or ``V0 - V`` (PMOS).
    """
    delta = (v0 - drain_v) if pmos else (drain_v - v0)
    design = np.stack([np.ones_like(delta), delta], axis=1)
    (intercept, slope), *_ = np.linalg.lstsq(design, current_a, rcond=None)
    residual = current_a - design @ np.array([intercept, slope])
    total = np.sum((current_a - current_a.mean()) ** 2)
    r2 = 1.0 - float(np.sum(residual**2) / total) if total > 0 else 1.0
    return float(intercept), float(slope / intercept), r2


def _grid(start: float, stop: float, step: float) -> np.ndarray:
    return np.round(np.arange(start, stop + step / 2, step), 6)


def _sweep(
    config: CircuitConfig, library: Path, work_dir: Path, role: str, gates: np.ndarray, timeout_s: float = 600.0
) -> tuple[np.ndarray, np.ndarray]:
    """DC sweep of one role: drain over :data:`FIT_RANGE_V`, gate over ``gates``. Returns V_D [n], I [gates, n] (A)."""
    start, stop = FIT_RANGE_V
    size = config.discharger if role == "discharger" else config.synapse
    if role == "pmos":
        devices = [mosfet("mem", "d", "g", "s", "vdd", PFET, size, shared_source=True),
                   mosfet("sel", "s", "0", "vdd", "vdd", PFET, config.synapse, shared_drain=True)]
    elif role == "nmos":
        devices = [mosfet("mem", "d", "g", "s", "0", NFET, size, shared_source=True),
                   mosfet("sel", "s", "vdd", "0", "0", NFET, config.synapse, shared_drain=True)]
    else:
        devices = [mosfet("mem", "d", "g", "s", "0", NFET, size, shared_source=True),
                   mosfet("sel", "s", "vdd", "0", "0", NFET, config.discharger_switch, shared_drain=True)]
    lines = [f"* DC sweep of the {role} role", f'.include "{library}"', f".temp {config.temperature}",
             f"Vdd vdd 0 DC {config.vdd}", f"Vd d 0 DC {config.v_rest}", f"Vg g 0 DC {gates[0]}", *devices]
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
        gate_v=gates.astype(float), current_a=currents[:, at_v0].astype(float),
        lam=np.array([f[1] for f in fits]), r2=np.array([f[2] for f in fits]),
    )


def measure_effective_capacitance(config: CircuitConfig, library: Path, work_dir: Path,
                                  current_a: float = 100e-9) -> float:
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
        one, [LayerBiases.off(1, n_in)], [math.inf] * n_in, library, title="effective capacitance",
        extra_lines=[f"Iceff mem_1_0 0 PWL(0 0 {on:.6g} 0 {on + one.edge_time:.6g} {current_a:.6g})"],
    )
    data = run_ngspice(netlist.text, work_dir, vectors=["v(mem_1_0)"], name="c_eff", timeout_s=600.0)
    t_a, t_b = 1.2 * period, 1.8 * period
    v_a, v_b = np.interp([t_a, t_b], data["time"], data["v(mem_1_0)"])
    return float(current_a * (t_b - t_a) / (v_a - v_b))


#: Currents (A) of the ideal source that sets v_end in the firing-ramp check: v_end ~ 0, 0.18, 0.36, 0.54.
RAMP_CHECK_CURRENTS_A = (0.0, 25e-9, 50e-9, 75e-9)


def measure_firing_ramp(
    config: CircuitConfig, library: Path, work_dir: Path, beta_dis: float,
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
        source = (f"Iramp mem_1_0 0 PWL(0 0 {on:.6g} 0 {on + edge:.6g} {current:.6g} "
                  f"{off:.6g} {current:.6g} {off + edge:.6g} 0)")
        netlist = build_network_netlist(one, [LayerBiases.off(1, n_in)], [math.inf] * n_in, library,
                                        title="firing ramp", extra_lines=[source])
        data = run_ngspice(netlist.text, work_dir, vectors=["v(mem_1_0)", "v(spike_1_0)"], name=f"ramp{k}",
                           timeout_s=600.0)
        time_s, mem = data["time"], data["v(mem_1_0)"]
        v_end = -(float(np.interp(2 * period - 2 * edge, time_s, mem)) - one.v_rest) / one.vth_circ
        crossing = crossing_time(time_s, data["v(spike_1_0)"], one.vdd / 2, 2 * period, 3 * period)
        fired = math.isfinite(crossing)
        model = float(rc_spike_fire(torch.tensor(v_end, dtype=torch.float64), beta_dis=beta_dis))
        rows.append({
            "v_end": v_end,
            "t_circuit": (crossing - 2 * period) / period if fired else None,
            "t_model": model,
            "v_switch": float(np.interp(crossing, time_s, mem)) if fired else None,
        })
    return rows


def characterize(
    out_dir: Path | str | None = None,
    config: CircuitConfig | None = None,
    *,
    roles: tuple[str, ...] = ("nmos", "pmos", "discharger"),
    measure_capacitance: bool = True,
    plot: bool = True,
) -> dict[str, Any]:
    """Characterise the devices; write ``out_dir/characterization.json`` and ``iv_curves.png``.

    Returns the JSON content (see :class:`Characterization`). ``roles`` may be narrowed for quick
    checks; then the missing λ are NaN and nothing is written. ``measure_capacitance`` also runs the
    neuron transients: the effective membrane capacitance (``c_eff_f``) and the firing-ramp check
    (``firing_ramp``, ``v_switch_effective``). Runs in about two seconds (ngspice with one thread).
    """
    config = config or CircuitConfig()
    library = model_library(corner=config.corner)
    v0 = config.v_rest
    grids = {"nmos": _grid(*NMOS_GATE_GRID_V), "pmos": _grid(*PMOS_GATE_GRID_V)}
    unknown = set(roles) - {"nmos", "pmos", "discharger"}
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; choose from nmos, pmos, discharger")
    work = Path(tempfile.mkdtemp(prefix="imcpnn_characterize_"))
    curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    try:
        for role in roles:
            if role == "discharger":
                # the regular grid plus vb_dis itself (its own one-point sweep)
                drain, current = _sweep(config, library, work, role, _grid(*DISCHARGER_GATE_GRID_V))
                _, at_bias = _sweep(config, library, work, role, np.array([config.vb_dis]))
                gates = np.append(_grid(*DISCHARGER_GATE_GRID_V), config.vb_dis)
                order = np.argsort(gates, kind="stable")
                curves[role] = (drain, gates[order], np.vstack([current, at_bias])[order])
            else:
                drain, current = _sweep(config, library, work, role, grids[role])
                curves[role] = (drain, grids[role], current)
        c_eff = measure_effective_capacitance(config, library, work) if measure_capacitance else math.nan
        tables = {role: _table(d, i, g, v0, role == "pmos") for role, (d, g, i) in curves.items()}
        ramp: list[dict[str, float]] = []
        if measure_capacitance and "discharger" in tables:
            k = int(np.argmin(np.abs(tables["discharger"].gate_v - config.vb_dis)))
            ramp = measure_firing_ramp(config, library, work, config.vth_circ * float(tables["discharger"].lam[k]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    switch_points = [row["v_switch"] for row in ramp if row["v_switch"] is not None]
    v_switch = float(np.mean(switch_points)) if switch_points else math.nan

    low, high = (f * config.unit_current for f in LAMBDA_CURRENT_RANGE)

    def summarise(role: str) -> tuple[float, float]:
        if role not in tables:
            return math.nan, math.nan
        table = tables[role]
        if role == "discharger":
            k = int(np.argmin(np.abs(table.gate_v - config.vb_dis)))
            return float(table.lam[k]), float(table.r2[k])
        rows = (table.current_a >= low) & (table.current_a <= high)
        return float(np.mean(table.lam[rows])), float(np.min(table.r2[rows]))

    (lam_n, r2_n), (lam_p, r2_p), (lam_dis, r2_dis) = (summarise(r) for r in ("nmos", "pmos", "discharger"))
    empty = BiasTable(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    dis_table = tables.get("discharger", empty)
    dis_current = (float(dis_table.current_a[np.argmin(np.abs(dis_table.gate_v - config.vb_dis))])
                   if dis_table.gate_v.size else math.nan)
    reference = {}
    for role, gate in (("nmos", 0.55), ("pmos", 1.2), ("discharger", config.vb_dis)):
        if role in tables:
            k = int(np.argmin(np.abs(tables[role].gate_v - gate)))
            reference[role] = {"gate_v": float(tables[role].gate_v[k]), "current_a": float(tables[role].current_a[k]),
                               "lambda": float(tables[role].lam[k]), "r2": float(tables[role].r2[k])}
    result = Characterization(
        lambda_n=lam_n, lambda_p=lam_p, lambda_dis=lam_dis, r2_n=r2_n, r2_p=r2_p, r2_dis=r2_dis,
        vth_circ=config.vth_circ, v_rest=v0, nmos=tables.get("nmos", empty), pmos=tables.get("pmos", empty),
        discharger=dis_table, discharger_current_a=dis_current, c_eff_f=c_eff,
        details={
            "fit_range_v": list(FIT_RANGE_V),
            "lambda_current_range_a": [low, high],
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
        },
    )
    data = result.to_dict()
    if out_dir is not None and set(roles) == {"nmos", "pmos", "discharger"}:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "characterization.json", data, indent=1, default=None)
        if plot:
            plot_iv_curves(curves, tables, config, out / "iv_curves.png")
    return data


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


def plot_iv_curves(
    curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    tables: dict[str, BiasTable],
    config: CircuitConfig,
    path: Path,
) -> None:
    """I-V curves with their linear fits (paper Fig. 17 a-b, 20 a) and λ against current (Fig. 17 c-d)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))
    plots: dict[str, tuple[Any, str, tuple[float, ...]]] = {
        "nmos": (axes[0, 0], "NMOS synapse (nfet_01v8 W=1 µm L=0.25 µm)", PLOT_GATES_V["nmos"]),
        "pmos": (axes[0, 1], "PMOS synapse (pfet_01v8 W=1 µm L=0.25 µm)", PLOT_GATES_V["pmos"]),
        "discharger": (axes[1, 0], f"Discharger (nfet_01v8 W={config.discharger.w} µm L={config.discharger.l} µm)",
                       tuple(sorted({0.50, 0.52, round(config.vb_dis, 3), 0.58, 0.60}))),
    }
    v0 = config.v_rest
    for role, (ax, title, gates) in plots.items():
        if role not in curves:
            continue
        drain, gate_values, current = curves[role]
        for gate in gates:
            k = int(np.argmin(np.abs(gate_values - gate)))
            delta = (v0 - drain) if role == "pmos" else (drain - v0)
            i0, lam, _ = fit_channel_length_modulation(drain, current[k], v0, role == "pmos")
            fit = i0 * (1 + lam * delta)
            (line,) = ax.plot(drain, current[k] * 1e9, lw=2, alpha=0.6)
            ax.plot(drain, fit * 1e9, "--", color=line.get_color(), lw=1,
                    label=f"V_G={gate_values[k]:.3f} V: I0={i0 * 1e9:.3g} nA, λ={lam:.3f}/V")
        ax.set_yscale("log")
        ax.axvline(v0, color="k", lw=0.6, ls=":")
        ax.set_xlabel("membrane (drain) voltage [V]")
        ax.set_ylabel("current [nA]")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7)
    ax = axes[1, 1]
    for role, marker in (("nmos", "o"), ("pmos", "s")):
        if role in tables:
            ax.semilogx(tables[role].current_a * 1e9, tables[role].lam, marker, ms=3, label=f"λ {role.upper()}")
    low, high = (f * config.unit_current * 1e9 for f in LAMBDA_CURRENT_RANGE)
    ax.axvspan(low, high, color="0.9", label="range averaged into λ")
    ax.set_xlim(0.1, 2000)
    ax.set_ylim(0, 1)
    ax.set_xlabel("current at V0 [nA]")
    ax.set_ylabel("λ [1/V]")
    ax.set_title("CLM coefficient against synaptic current", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
