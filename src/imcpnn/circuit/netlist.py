"""Transistor-level ngspice netlists of RC-Spike networks in sky130 (CIRCUIT.md, paper Fig. 6, 16, 18).

Node names (``l`` = neuron layer, 1-based; ``i`` = neuron; ``j`` = input; layer 0 = the inputs):

- ``mem_l_i``: membrane of neuron ``i`` of layer ``l`` (starts at V0, falls for positive weights);
- ``spike_l_i`` / ``spikeb_l_i``: its output spike and the inverse, the word lines of layer ``l+1``;
- ``phase_l``/``phaseb_l``, ``reset_l``/``resetb_l``: the layer's control signals (ideal PWL sources).

Timing (``T = t_circ``): layer ``l`` is reset until ``l T``, accumulates in ``[l T, (l+1) T]`` and
fires in ``[(l+1) T, (l+2) T]``; layers are shifted by one phase, so layer ``l+1`` accumulates while
layer ``l`` fires. The input spikes (layer 0) rise at ``T (1 + t_j)`` and are held until ``2 T``.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import CircuitConfig, TransistorSize

NFET = "sky130_fd_pr__nfet_01v8"
PFET = "sky130_fd_pr__pfet_01v8"
NFET_LVT = "sky130_fd_pr__nfet_01v8_lvt"
PFET_HVT = "sky130_fd_pr__pfet_01v8_hvt"

#: Revision of the generated circuit, stored with every comparison so that a folder simulated with an
#: older generator is not reused (:func:`imcpnn.circuit.compare.prepare_run_folder`). 2: dummy switches
#: on the selectors' internal nodes, matched spike/spikeb output stage, both word lines coupled to the
#: membranes they cross. 3: NMOS dummies of full selector width (the PMOS ones stay at half).
NETLIST_REVISION = 3

#: Diffusion extension beyond the gate, µm (xschem's sky130 default: ad = as = W * 0.29 µm).
DIFFUSION_LENGTH = 0.29
#: Half the uncontacted diffusion shared by two stacked gates (poly spacing 0.21 µm), µm: the
#: internal node of a series pair (selector and memory transistor) as a layout would draw it.
SHARED_DIFFUSION_LENGTH = 0.105


#: A name that may appear in a netlist or an ngspice command line (job keys, titles, file stems).
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.+-]+")


def check_name(value: object, what: str) -> str:
    """``value`` when it is a non-empty name of ``[A-Za-z0-9_.+-]`` (no spaces, slashes, newlines,
    quotes), else a ValueError naming ``what``: such names go into netlists, file names and ngspice commands."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value) or value in (".", ".."):
        raise ValueError(
            f"{what} must be a non-empty name of the characters A-Z a-z 0-9 _ . + - (no spaces, slashes, quotes "
            f"or newlines: it goes into a netlist and a file name); got {value!r}"
        )
    return value


def include_line(path: Path | str) -> str:
    """``.include "<path>"``, for a path ngspice reads as one quoted word: a path holding a quote, a newline
    or another control character is refused (it would end the line and inject netlist statements)."""
    text = str(path)
    if not text or '"' in text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError(
            f"the model library path {text!r} cannot go into a netlist (it holds a quote, a newline or another "
            "control character); move the model cache (XDG_CACHE_HOME) or the sky130 package to a plain path"
        )
    return f'.include "{text}"'


def check_netlist_line(line: object, what: str) -> str:
    """``line`` when it is one netlist line (no newline or control character, no ``.control``/``.endc``,
    whose commands ngspice would run), else a ValueError naming ``what``."""
    if not isinstance(line, str) or any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in line):
        raise ValueError(f"{what} must be single netlist lines without newlines or control characters; got {line!r}")
    if (line.split() or [""])[0].lower() in (".control", ".endc", ".end"):
        raise ValueError(f"{what} must not hold .control, .endc or .end lines (ngspice would run them); got {line!r}")
    return line


@dataclass(frozen=True)
class LayerBiases:
    """Gate biases (V) of one layer's memory transistors, ``[N_out, N_in]`` each; NaN = switched off.

    An NMOS that is off has its gate at 0 V, a PMOS that is off at ``vdd``.
    """

    nmos: np.ndarray
    pmos: np.ndarray

    def __post_init__(self) -> None:
        nmos = np.asarray(self.nmos, dtype=float)
        pmos = np.asarray(self.pmos, dtype=float)
        if nmos.ndim != 2 or nmos.shape != pmos.shape:
            raise ValueError(
                f"nmos and pmos biases must be 2-D arrays [N_out, N_in] of the same shape; got "
                f"{nmos.shape} and {pmos.shape}"
            )
        object.__setattr__(self, "nmos", nmos)
        object.__setattr__(self, "pmos", pmos)

    @property
    def shape(self) -> tuple[int, int]:
        return self.nmos.shape  # type: ignore[return-value]

    @classmethod
    def off(cls, n_out: int, n_in: int) -> LayerBiases:
        """All synapses off (weight 0)."""
        nan = np.full((n_out, n_in), np.nan)
        return cls(nan, nan.copy())


@dataclass(frozen=True)
class Netlist:
    """A netlist ready for :func:`imcpnn.circuit.spice.run_ngspice`: text, probed vectors, stop time."""

    text: str
    vectors: tuple[str, ...]
    t_stop: float  # s
    layer_sizes: tuple[int, ...]


def accumulation_start(config: CircuitConfig, layer: int) -> float:
    """Start (s) of neuron layer ``layer``'s accumulation window (layer 1 = first hidden layer)."""
    return layer * config.t_circ


def firing_start(config: CircuitConfig, layer: int) -> float:
    """Start (s) of neuron layer ``layer``'s firing window."""
    return (layer + 1) * config.t_circ


def stop_time(config: CircuitConfig) -> float:
    """End (s) of the last layer's firing window: the transient's stop time."""
    return (config.n_weight_layers + 2) * config.t_circ


def membrane_node(layer: int, neuron: int) -> str:
    return f"mem_{layer}_{neuron}"


def spike_node(layer: int, neuron: int) -> str:
    return f"spike_{layer}_{neuron}"


def _fmt(value: float) -> str:
    return f"{value:.9g}"


def mosfet(
    name: str,
    drain: str,
    gate: str,
    source: str,
    bulk: str,
    model: str,
    size: TransistorSize,
    *,
    shared_drain: bool = False,
    shared_source: bool = False,
) -> str:
    """One sky130 transistor instance (sizes in µm) with its drain/source junction geometry.

    Contacted sides get xschem's default ``W x 0.29 µm``; a side ``shared`` with a stacked neighbour
    (no contact) gets ``W x 0.105 µm`` with no outer sidewall, which sets its junction capacitance.
    """

    def geometry(shared: bool) -> tuple[float, float]:
        length = SHARED_DIFFUSION_LENGTH if shared else DIFFUSION_LENGTH
        perimeter = size.w + 2 * length if shared else 2 * (size.w + length)
        return size.w * length, perimeter

    (ad, pd), (as_, ps) = geometry(shared_drain), geometry(shared_source)
    return (
        f"X{name} {drain} {gate} {source} {bulk} {model} W={_fmt(size.w)} L={_fmt(size.l)} "
        f"ad={_fmt(ad)} as={_fmt(as_)} pd={_fmt(pd)} ps={_fmt(ps)} nf=1"
    )


def pwl_source(name: str, node: str, points: Sequence[tuple[float, float]]) -> str:
    """An ideal voltage source following ``points`` (time s, voltage V), times strictly increasing."""
    times = [t for t, _ in points]
    if any(b <= a for a, b in itertools.pairwise(times)):
        raise ValueError(f"PWL times of {name} must increase strictly; got {times}")
    body = " ".join(f"{_fmt(t)} {_fmt(v)}" for t, v in points)
    return f"V{name} {node} 0 PWL({body})"


def _step_points(vdd: float, edges: Sequence[tuple[float, float, bool]], t_stop: float) -> list[tuple[float, float]]:
    """PWL points of a digital signal: ``edges`` = (start, end, rising) ramps, in time order, from 0 V."""
    level = 0.0
    points: list[tuple[float, float]] = [(0.0, 0.0)]
    for start, end, rising in edges:
        if start >= t_stop:
            break
        if start <= points[-1][0]:
            raise ValueError(f"edge at {start} s overlaps the previous one; keep edges apart")
        points.append((start, level))
        level = vdd if rising else 0.0
        points.append((end, level))
    return points


def _invert(points: list[tuple[float, float]], vdd: float) -> list[tuple[float, float]]:
    return [(t, vdd - v) for t, v in points]


def control_points(config: CircuitConfig, layer: int) -> dict[str, list[tuple[float, float]]]:
    """PWL points of ``reset_l`` and ``phase_l`` for neuron layer ``layer``.

    Reset is high until it falls over ``[l T - 2e, l T - e]`` (``e`` = edge time: the membrane is
    free before the window starts) and rises again centred on ``(l+2) T``, the end of the layer's
    firing window, which also ends the next layer's accumulation (its input spikes fall). Phase
    rises centred on ``(l+1) T`` and falls with the second reset.
    """
    period, edge, vdd = config.t_circ, config.edge_time, config.vdd
    t_stop = stop_time(config)
    reset_fall = layer * period - 2 * edge
    rearm = (layer + 2) * period - edge / 2
    reset = [(0.0, vdd), (reset_fall, vdd), (reset_fall + edge, 0.0)]
    if rearm < t_stop:
        reset += [(rearm, 0.0), (rearm + edge, vdd)]
    fire = (layer + 1) * period
    phase = _step_points(vdd, [(fire - edge / 2, fire + edge / 2, True), (rearm, rearm + edge, False)], t_stop)
    return {"reset": reset, "phase": phase}


def input_points(config: CircuitConfig, spike_time: float) -> list[tuple[float, float]] | None:
    """PWL points of one input spike at normalised time ``spike_time`` (None: no spike).

    A step rising over ``[T (1 + t) - e/2, T (1 + t) + e/2]``, held until it falls centred on
    ``2 T`` (the end of layer 1's accumulation window). Spikes too late to rise before that fall
    (``t > 1 - e / T``, or ``+inf``) are left out: their charge, at most ``e / T`` of a full
    window, is neglected.
    """
    period, edge = config.t_circ, config.edge_time
    if not math.isfinite(spike_time):
        return None
    if spike_time < 0:
        raise ValueError(f"input spike times must be >= 0 (normalised, window [0, 1]); got {spike_time}")
    centre = period * (1.0 + spike_time)
    fall = 2 * period - edge / 2
    if centre + edge / 2 >= fall:
        return None
    return _step_points(
        config.vdd, [(centre - edge / 2, centre + edge / 2, True), (fall, fall + edge, False)], stop_time(config)
    )


def _neuron(config: CircuitConfig, layer: int, index: int) -> list[str]:
    """Membrane capacitor, reset gate, discharger, sensing inverter, SR latch and matched output stage."""
    c = config
    mem, tag = membrane_node(layer, index), f"{layer}_{index}"
    phase, phaseb, reset, resetb = f"phase_{layer}", f"phaseb_{layer}", f"reset_{layer}", f"resetb_{layer}"
    sense, q, qb = f"sense_{tag}", f"q_{tag}", f"qb_{tag}"
    spike, spikeb = spike_node(layer, index), f"spikeb_{tag}"
    n, p = c.logic_nmos, c.logic_pmos
    return [
        f"* neuron {index} of layer {layer}",
        f"Cmim_{tag} {mem} 0 {_fmt(c.c_mim)}",
        f"Cwire_{tag} {mem} 0 {_fmt(c.c_membrane_wire)}" if c.c_membrane_wire > 0 else "",
        # reset transmission gate to V0
        mosfet(f"rstn_{tag}", mem, reset, "vrest", "0", NFET, c.reset_switch),
        mosfet(f"rstp_{tag}", mem, resetb, "vrest", "vdd", PFET, c.reset_switch),
        # discharger: biased NMOS on the membrane, switched to ground by the phase signal
        mosfet(f"disb_{tag}", mem, "vbdis", f"dis_{tag}", "0", NFET, c.discharger, shared_source=True),
        mosfet(f"diss_{tag}", f"dis_{tag}", phase, "0", "0", NFET, c.discharger_switch, shared_drain=True),
        # sensing inverter: vdd - PMOS(vb_sense) - HVT PMOS - sense - LVT NMOS - 0; outside the firing
        # phase an NMOS holds its output low (no enable switch in the stack: its switching would
        # kick the HVT PMOS's source and, through the gate capacitance, the membrane)
        mosfet(f"snb_{tag}", f"sb_{tag}", "vbsense", "vdd", "vdd", PFET, c.sense_pmos_bias, shared_drain=True),
        mosfet(f"snp_{tag}", sense, mem, f"sb_{tag}", "vdd", PFET_HVT, c.sense_pmos_hvt, shared_source=True),
        mosfet(f"snn_{tag}", sense, mem, "0", "0", NFET_LVT, c.sense_nmos_lvt),
        mosfet(f"sno_{tag}", sense, phaseb, "0", "0", NFET, n),  # holds sense low when disabled
        # SR latch of two NOR gates: q = NOR(reset, qb), qb = NOR(sense, q)
        *_nor(f"nr_{tag}", reset, qb, q, n, p),
        *_nor(f"ns_{tag}", sense, q, qb, n, p),
        # output stage: x = NOT q; spike = NOT x through an inverter, spikeb = x through an always-on
        # transmission gate of matched delay, so both word lines switch together (the selectors'
        # dummy switches cancel their charge only when spike and spikeb edges coincide)
        *_inverter(f"ob_{tag}", q, f"x_{tag}", n, p),
        *_inverter(f"os_{tag}", f"x_{tag}", spike, c.output_nmos, c.output_pmos),
        mosfet(f"otn_{tag}", spikeb, "vdd", f"x_{tag}", "0", NFET, c.output_nmos),
        mosfet(f"otp_{tag}", spikeb, "0", f"x_{tag}", "vdd", PFET, c.output_pmos),
    ]


def _nor(name: str, a: str, b: str, out: str, n: TransistorSize, p: TransistorSize) -> list[str]:
    return [
        mosfet(f"{name}pa", f"{name}_x", a, "vdd", "vdd", PFET, p, shared_drain=True),
        mosfet(f"{name}pb", out, b, f"{name}_x", "vdd", PFET, p, shared_source=True),
        mosfet(f"{name}na", out, a, "0", "0", NFET, n),
        mosfet(f"{name}nb", out, b, "0", "0", NFET, n),
    ]


def _inverter(name: str, a: str, out: str, n: TransistorSize, p: TransistorSize) -> list[str]:
    return [
        mosfet(f"{name}p", out, a, "vdd", "vdd", PFET, p),
        mosfet(f"{name}n", out, a, "0", "0", NFET, n),
    ]


def _synapse(config: CircuitConfig, layer: int, out: int, inp: int, vb_n: float, vb_p: float) -> list[str]:
    """NMOS pair (memory transistor on the membrane, selector to ground) and PMOS pair (to vdd), each with a
    dummy switch on its internal node driven by the complementary word line (``config.selector_dummy_*``)."""
    tag = f"{layer}_{out}_{inp}"
    mem = membrane_node(layer, out)
    spike, spikeb = f"spike_{layer - 1}_{inp}", f"spikeb_{layer - 1}_{inp}"
    lines = [f"* synapse {layer}: input {inp} -> neuron {out}"]
    gate_n = "vbn_off"
    if not math.isnan(vb_n):
        gate_n = f"vbn_{tag}"
        lines.append(f"Vbn_{tag} {gate_n} 0 DC {_fmt(vb_n)}")
    gate_p = "vbp_off"
    if not math.isnan(vb_p):
        gate_p = f"vbp_{tag}"
        lines.append(f"Vbp_{tag} {gate_p} 0 DC {_fmt(vb_p)}")
    lines += [
        mosfet(f"nm_{tag}", mem, gate_n, f"ns_{tag}", "0", NFET, config.synapse, shared_source=True),
        mosfet(f"ns_{tag}", f"ns_{tag}", spike, "0", "0", NFET, config.synapse, shared_drain=True),
        mosfet(f"pm_{tag}", mem, gate_p, f"ps_{tag}", "vdd", PFET, config.synapse, shared_source=True),
        mosfet(f"ps_{tag}", f"ps_{tag}", spikeb, "vdd", "vdd", PFET, config.synapse, shared_drain=True),
    ]
    if config.selector_dummy_nmos is not None:
        lines.append(mosfet(f"nd_{tag}", f"ns_{tag}", spikeb, f"ns_{tag}", "0", NFET, config.selector_dummy_nmos))
    if config.selector_dummy_pmos is not None:
        lines.append(mosfet(f"pd_{tag}", f"ps_{tag}", spike, f"ps_{tag}", "vdd", PFET, config.selector_dummy_pmos))
    if config.c_spike_coupling > 0:
        lines += [
            f"Ccpl_{tag} {spike} {mem} {_fmt(config.c_spike_coupling)}",
            f"Ccplb_{tag} {spikeb} {mem} {_fmt(config.c_spike_coupling)}",
        ]
    return lines


def build_network_netlist(
    config: CircuitConfig,
    biases: Sequence[LayerBiases],
    input_times: Sequence[float] | np.ndarray,
    library: Path | str,
    *,
    title: str = "RC-Spike network",
    extra_lines: Sequence[str] = (),
) -> Netlist:
    """The transient netlist of one sample: network ``config.layer_sizes``, gate ``biases`` per layer,
    input spikes at normalised ``input_times`` (``+inf``: no spike), sky130 models from ``library``.

    Probes every membrane and output spike (and the input spikes). ``extra_lines`` are appended
    before the analysis (test fixtures, e.g. an ideal current source).
    """
    sizes = config.layer_sizes
    times = np.asarray(input_times, dtype=float).reshape(-1)
    if times.shape[0] != sizes[0]:
        raise ValueError(f"input_times has {times.shape[0]} entries; the network has {sizes[0]} inputs")
    if np.isnan(times).any():
        raise ValueError("input_times contains NaN; use +inf for 'no spike'")
    if len(biases) != config.n_weight_layers:
        raise ValueError(f"got biases for {len(biases)} layers; the network has {config.n_weight_layers}")
    for layer, layer_bias in enumerate(biases, start=1):
        expected = (sizes[layer], sizes[layer - 1])
        if layer_bias.shape != expected:
            raise ValueError(f"biases of layer {layer} have shape {layer_bias.shape}; expected {expected}")
    vdd, t_stop = config.vdd, stop_time(config)
    check_name(title.replace(" ", "_"), "the netlist title")
    extra = [check_netlist_line(line, "extra_lines") for line in extra_lines]
    lines = [
        f"* {title}: layers {'-'.join(map(str, sizes))}, sky130 {config.corner}, generated by imcpnn",
        include_line(library),
        f".temp {_fmt(config.temperature)}",
        f".options {config.spice_options}" if config.spice_options.strip() else "",
        f"Vdd vdd 0 DC {_fmt(vdd)}",
        f"Vrest vrest 0 DC {_fmt(config.v_rest)}",
        f"Vbsense vbsense 0 DC {_fmt(config.vb_sense)}",
        f"Vbdis vbdis 0 DC {_fmt(config.vb_dis)}",
        "Vbn_off vbn_off 0 DC 0",
        f"Vbp_off vbp_off 0 DC {_fmt(vdd)}",
        "* input spikes (layer 0) and their inverses",
    ]
    for j, t_j in enumerate(times):
        points = input_points(config, float(t_j))
        if points is None:
            lines += [f"Vspike_0_{j} spike_0_{j} 0 DC 0", f"Vspikeb_0_{j} spikeb_0_{j} 0 DC {_fmt(vdd)}"]
        else:
            lines += [
                pwl_source(f"spike_0_{j}", f"spike_0_{j}", points),
                pwl_source(f"spikeb_0_{j}", f"spikeb_0_{j}", _invert(points, vdd)),
            ]
    for layer in range(1, len(sizes)):
        control = control_points(config, layer)
        lines += [
            f"* control of layer {layer}",
            pwl_source(f"reset_{layer}", f"reset_{layer}", control["reset"]),
            pwl_source(f"resetb_{layer}", f"resetb_{layer}", _invert(control["reset"], vdd)),
            pwl_source(f"phase_{layer}", f"phase_{layer}", control["phase"]),
            pwl_source(f"phaseb_{layer}", f"phaseb_{layer}", _invert(control["phase"], vdd)),
        ]
    for layer in range(1, len(sizes)):
        if config.c_spike_wire > 0:
            for j in range(sizes[layer - 1]):
                lines += [
                    f"Cwl_{layer - 1}_{j} spike_{layer - 1}_{j} 0 {_fmt(config.c_spike_wire)}",
                    f"Cwlb_{layer - 1}_{j} spikeb_{layer - 1}_{j} 0 {_fmt(config.c_spike_wire)}",
                ]
        layer_bias = biases[layer - 1]
        for i in range(sizes[layer]):
            for j in range(sizes[layer - 1]):
                lines += _synapse(config, layer, i, j, layer_bias.nmos[i, j], layer_bias.pmos[i, j])
            lines += _neuron(config, layer, i)
    lines += extra
    lines.append(f".tran {_fmt(config.edge_time)} {_fmt(t_stop)} 0 {_fmt(config.max_step)}")
    vectors = [f"v(spike_0_{j})" for j in range(sizes[0])]
    for layer in range(1, len(sizes)):
        vectors += [f"v({membrane_node(layer, i)})" for i in range(sizes[layer])]
        vectors += [f"v({spike_node(layer, i)})" for i in range(sizes[layer])]
    text = "\n".join(line for line in lines if line) + "\n"
    return Netlist(text=text, vectors=tuple(vectors), t_stop=t_stop, layer_sizes=sizes)
