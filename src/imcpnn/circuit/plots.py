"""The figures: the devices' I-V curves (paper Fig. 17, 20), spike-time differences and membrane waveforms (Fig. 7)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import save_figure
from .characterization import LAMBDA_CURRENT_RANGE, BiasTable, fit_channel_length_modulation
from .config import CircuitConfig
from .netlist import membrane_node

#: The gate biases (V) whose I-V curves :func:`plot_iv_curves` draws.
PLOT_GATES_V = {"nmos": (0.40, 0.45, 0.50, 0.55, 0.60, 0.65), "pmos": (1.05, 1.10, 1.15, 1.20, 1.25, 1.30)}


@dataclass(frozen=True)
class WaveformPanel:
    """One flow's row of :func:`plot_waveforms`: the SPICE waveforms of a sample (``"time"`` in s and
    ``mem_l_i`` in V), the model's membrane traces at those times, and the row's title."""

    spice: Mapping[str, np.ndarray]
    model: Mapping[str, np.ndarray]
    title: str
    rmse_ns: float | None = None  # the sample's output spike-time RMSE, SPICE against model


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_histogram(differences_ns: Mapping[str, np.ndarray], rmse: Mapping[str, float], path: Path) -> None:
    """Histogram of SPICE - model output spike-time differences (ns) for both flows (paper Fig. 7d)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    values = np.concatenate([d.ravel() for d in differences_ns.values()]) if differences_ns else np.zeros(1)
    limit = max(5.0, float(np.percentile(np.abs(values), 99.5)) * 1.1 if values.size else 5.0)
    bins = np.linspace(-limit, limit, 61)
    for name, diffs in differences_ns.items():
        ax.hist(
            np.clip(diffs.ravel(), -limit, limit), bins=bins, alpha=0.55,
            label=f"{name.replace('_', '-').upper()}: RMSE {rmse[name]:.2f} ns",
        )  # fmt: skip
    ax.set_xlabel("spike time, SPICE - model [ns]")
    ax.set_ylabel("output spikes [count]")
    ax.set_title("Output-layer spike-time differences")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


#: The phases of a layer's cycle in :func:`plot_waveforms`: name, offset (in T_circ) from the layer's
#: accumulation start, shading colour.
PHASES = (("reset", -1, "tab:green"), ("accumulation", 0, "tab:blue"), ("firing", 1, "gold"))


def plot_waveforms(panels: Mapping[str, WaveformPanel], config: CircuitConfig, path: Path) -> None:
    """Membrane voltages, SPICE (solid) against model (dashed), per flow (rows) and layer (columns)
    (paper Fig. 7b, c): one colour per neuron, the phases shaded and named, the threshold V_switch
    drawn, the sample's spike-time RMSE in each title."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    plt = _pyplot()
    n_layers = config.n_weight_layers
    fig, axes = plt.subplots(
        len(panels), n_layers, figsize=(6.4 * n_layers, 3.6 * len(panels) + 1.2), squeeze=False, layout="constrained"
    )
    period_us = config.t_circ * 1e6
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    n_neurons = max(config.layer_sizes[1:])
    top = config.vdd + 0.2  # room above the supply for the phase names
    for row, panel in enumerate(panels.values()):
        t_us = panel.spice["time"] * 1e6
        for layer in range(1, n_layers + 1):
            ax = axes[row, layer - 1]
            for name, offset, color in PHASES:
                start = (layer + offset) * period_us
                ax.axvspan(start, start + period_us, color=color, alpha=0.10, lw=0)
                ax.text(start + period_us / 2, top - 0.03, f"{name} phase", ha="center", va="top", fontsize=8,
                        color="0.25")  # fmt: skip
            for i in range(config.layer_sizes[layer]):
                node = membrane_node(layer, i)
                color = colors[i % len(colors)]
                ax.plot(t_us, panel.spice[node], color=color, lw=1.3)
                ax.plot(t_us, panel.model[node], "--", color=color, lw=1.0)
            ax.axhline(config.v_switch, color="k", lw=0.8, ls=":")
            ax.text((layer - 1) * period_us + 0.02 * period_us, config.v_switch + 0.01,
                    f"V_switch = {config.v_switch:.3f} V", va="bottom", ha="left", fontsize=7.5)  # fmt: skip
            ax.set_xlim((layer - 1) * period_us, (layer + 2) * period_us)
            ax.set_ylim(min(0.0, config.v_switch - 0.15), top)
            ax.set_xlabel("time [µs]")
            ax.set_ylabel("membrane voltage [V]")
            rmse = f", sample RMSE {panel.rmse_ns:.2f} ns" if panel.rmse_ns is not None else ""
            kind = "output" if layer == n_layers else "hidden"
            ax.set_title(f"{panel.title}{rmse}: layer {layer} ({kind})", fontsize=9.5)
    handles = [Line2D([], [], color=colors[i % len(colors)], lw=2, label=f"neuron {i}") for i in range(n_neurons)]
    handles += [
        Line2D([], [], color="0.3", lw=1.3, label="SPICE (solid)"),
        Line2D([], [], color="0.3", lw=1.0, ls="--", label="model (dashed)"),
        Line2D([], [], color="k", lw=0.8, ls=":", label=f"threshold V_switch = {config.v_switch:.3f} V"),
        *(Patch(color=color, alpha=0.25, label=f"{name} phase") for name, _, color in PHASES),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 6), fontsize=8, frameon=False)
    fig.suptitle(
        "Worst test sample of each flow: membrane voltages, SPICE against the model "
        f"(rest V0 = {config.v_rest:.2f} V; a neuron fires when its membrane falls below V_switch)",
        fontsize=10.5,
    )
    save_figure(fig, path, dpi=110)


def plot_iv_curves(
    curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    tables: dict[str, BiasTable],
    config: CircuitConfig,
    path: Path,
) -> None:
    """I-V curves with their linear fits (paper Fig. 17 a-b, 20 a) and λ against current (Fig. 17 c-d)."""
    from matplotlib.lines import Line2D

    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(15, 9), layout="constrained")
    plots: dict[str, tuple[Any, str, tuple[float, ...]]] = {
        "nmos": (axes[0, 0], "NMOS synapse (nfet_01v8 W=1 µm L=0.25 µm)", PLOT_GATES_V["nmos"]),
        "pmos": (axes[0, 1], "PMOS synapse (pfet_01v8 W=1 µm L=0.25 µm)", PLOT_GATES_V["pmos"]),
        "discharger": (
            axes[1, 0],
            f"Discharger (nfet_01v8 W={config.discharger.w} µm L={config.discharger.l} µm)",
            tuple(sorted({0.50, 0.52, round(config.vb_dis, 3), 0.58, 0.60})),
        ),
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
            (line,) = ax.plot(drain[::4], current[k][::4] * 1e9, "o", ms=3, mfc="none", mew=0.9)
            ax.plot(
                drain,
                fit * 1e9,
                "-",
                color=line.get_color(),
                lw=1,
                label=f"V_G={gate_values[k]:.3f} V: I0={i0 * 1e9:.3g} nA, λ={lam:.3f}/V",
            )
        ax.set_yscale("log")
        ax.axvline(v0, color="k", lw=0.6, ls=":")
        ax.set_xlabel("membrane (drain) voltage [V]")
        ax.set_ylabel("drain current [nA]")
        ax.set_title(title, fontsize=10)
        style = [
            Line2D([], [], color="0.3", marker="o", ms=3, mfc="none", ls="none", label="SPICE (ngspice DC sweep)"),
            Line2D([], [], color="0.3", lw=1, label="fit I = I0 (1 + λ ΔV)"),
            Line2D([], [], color="k", lw=0.6, ls=":", label=f"V0 = {v0:.2f} V"),
        ]
        ax.legend(handles=style + ax.get_legend_handles_labels()[0], fontsize=7, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)  # fmt: skip
    ax = axes[1, 1]
    for role, marker in (("nmos", "o"), ("pmos", "s")):
        if role in tables:
            ax.semilogx(
                tables[role].current_a * 1e9,
                tables[role].lam,
                marker,
                ms=3,
                label=f"λ {role.upper()} (fit of each SPICE curve)",
            )
    low, high = (f * config.unit_current * 1e9 for f in LAMBDA_CURRENT_RANGE)
    ax.axvspan(low, high, color="0.9", label="range averaged into λ")
    ax.set_xlim(0.1, 2000)
    ax.set_ylim(0, 1)
    ax.set_xlabel("current at V0 [nA]")
    ax.set_ylabel("λ [1/V]")
    ax.set_title("CLM coefficient against synaptic current", fontsize=10)
    ax.legend(fontsize=8)
    fig.suptitle(
        f"sky130 device characterisation: corner {config.corner}, {config.temperature:g} °C, "
        f"Vdd = {config.vdd:g} V (markers: SPICE; lines: linear fits)",
        fontsize=11,
    )
    save_figure(fig, path)


#: The legend names and colours of the energy parts (:data:`imcpnn.circuit.energy.PARTS`).
ENERGY_PART_LABELS = {
    "synapses": ("synapses (NMOS: V0 x membrane charge; PMOS: vdd supply - V0 charge)", "#1f77b4"),
    "membrane_reset": ("membrane reset (rest of the V0 source, reset PMOS well)", "#9467bd"),
    "discharger": ("discharger (V0 x membrane charge)", "#ff7f0e"),
    "sensing_inverter": ("sensing inverter (static current)", "#2ca02c"),
    "output_logic": ("output logic (latch, output stage, next word lines)", "#d62728"),
    "control_drivers": ("control lines reset/phase (ideal sources, V·I)", "#8c564b"),
    "input_drivers": ("input spike lines (ideal sources, V·I)", "#e377c2"),
    "bias": ("gate-bias sources", "#7f7f7f"),
}


def plot_energy_split(energies: Mapping[str, Any], path: Path) -> None:
    """Stacked bars of the energy per inference (fJ, mean over the test samples) per layer and part, SPICE and
    model side by side for each flow (``energies``: flow name -> :class:`~imcpnn.circuit.report.FlowEnergy`)."""
    plt = _pyplot()
    bars = []  # (label, layers_fj)
    for name, energy in energies.items():
        flow = name.replace("_", "-").upper()
        for side, summary in (("SPICE", energy.spice), ("model", energy.model)):
            if summary is None:
                continue
            for layer, parts in enumerate(summary.layers, start=1):
                bars.append((f"{flow}\n{side}\nlayer {layer}", parts))
    fig, ax = plt.subplots(figsize=(max(7.0, 1.1 * len(bars) + 5.5), 5.5))
    x = np.arange(len(bars))
    for part, (label, colour) in ENERGY_PART_LABELS.items():
        positive = np.array([max(parts.get(part, 0.0), 0.0) for _, parts in bars])
        bottoms = np.array(
            [sum(max(parts.get(p, 0.0), 0.0) for p in list(ENERGY_PART_LABELS)[: list(ENERGY_PART_LABELS).index(part)])
             for _, parts in bars]
        )  # fmt: skip
        ax.bar(x, positive, bottom=bottoms, color=colour, label=label, width=0.7)
    totals = [sum(parts.values()) for _, parts in bars]
    for k, total in enumerate(totals):
        ax.text(k, total, f"{total:.0f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x)
    ax.set_xticklabels([label for label, _ in bars], fontsize=8)
    ax.set_ylabel("energy per inference [fJ]")
    ax.set_title("Energy per inference by layer and part (mean over the test samples; negative parts not drawn)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
