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
#: membranes they cross. 3: NMOS dummies of full selector width (the PMOS ones stay at half). 4: energy meters
#: (:func:`build_network_netlist` with ``energy_meters``, what the runner simulates): every part of every
#: layer on its own supply, bias and 0 V ammeter sources, and the transient continued by
#: :data:`ENERGY_SETTLE_FRACTION` of a phase so that the last layer's reset completes (the same circuit
#: otherwise; spike times unchanged).
NETLIST_REVISION = 4

#: How far (fraction of ``t_circ``) a metered transient runs past :func:`stop_time`: the last layer's reset
#: rises centred on ``stop_time`` and restores its membranes within a few ns, so that every layer ends the
#: transient in the state it started from (one complete inference, no stored energy left over).
ENERGY_SETTLE_FRACTION = 0.05

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


#: What each group of metered sources delivers (:class:`SupplyMeter`; VARIATION.md section 6): V0 to the reset
#: gates (``rest``); vdd to the reset PMOS's n-well (``reset_well``), to the PMOS synapses (``synapse_vdd``), to
#: the sensing inverters (``sense_vdd``), to the latches and output stages (``logic_vdd``); 0 V ammeters between
#: the NMOS synapses' selectors and ground (``synapse_ground``) and between the dischargers' phase switches and
#: ground (``discharger_ground``); the gate biases (``bias``), the layer's reset/phase lines and their inverses
#: (``control``) and the input spikes and their inverses (``input``, layer 1's word lines).
METER_GROUPS = (
    "rest", "reset_well", "synapse_vdd", "synapse_ground", "discharger_ground", "sense_vdd", "logic_vdd", "bias",
    "control", "input",
)  # fmt: skip


@dataclass(frozen=True)
class SupplyMeter:
    """One metered ideal voltage source of a metered netlist: its element ``source`` (``Vrest_1``), the neuron
    ``layer`` it serves, its :data:`METER_GROUPS` ``group`` and its voltage as PWL ``points`` (time s, V; one
    point for a DC source). ngspice's ``i(source)`` is the current from its + node through it to ground, so the
    power it delivers is ``-V i``."""

    source: str
    layer: int
    group: str
    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if self.group not in METER_GROUPS:
            raise ValueError(f"meter group must be one of {METER_GROUPS}; got {self.group!r}")
        object.__setattr__(self, "points", tuple((float(t), float(v)) for t, v in self.points))

    @property
    def vector(self) -> str:
        """The ngspice vector of the source's current."""
        return f"i({self.source.lower()})"

    def voltage(self, time_s: np.ndarray) -> np.ndarray:
        """The source's voltage (V) at ``time_s`` (its PWL held before the first and after the last point)."""
        times = np.array([t for t, _ in self.points])
        values = np.array([v for _, v in self.points])
        return np.interp(np.asarray(time_s, dtype=float), times, values)


@dataclass(frozen=True)
class Netlist:
    """A netlist ready for :func:`imcpnn.circuit.spice.run_ngspice`: text, probed vectors, stop time, and (for a
    metered netlist) the sources whose currents are written too (:attr:`written_vectors`)."""

    text: str
    vectors: tuple[str, ...]
    t_stop: float  # s
    layer_sizes: tuple[int, ...]
    meters: tuple[SupplyMeter, ...] = ()

    @property
    def written_vectors(self) -> tuple[str, ...]:
        """The probed voltages, then the metered sources' currents."""
        return self.vectors + tuple(meter.vector for meter in self.meters)


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


@dataclass(frozen=True)
class NeuronSupplies:
    """The supply and bias nodes of one neuron's parts (defaults: the shared nodes ``vdd``, ``vrest``, ``vbdis``,
    ``vbsense`` and ground, as the subcircuit export draws them; :func:`layer_supplies` gives each layer's
    parts their own, metered, nodes).

    ``reset_well``: the n-well (bulk) of the reset gate's PMOS; ``rest``: V0, the reset gate's source;
    ``discharger_ground``: the source of the discharger's phase switch; ``sense_vdd``: the top of the sensing
    inverter's stack and the n-wells of its PMOS; ``logic_vdd``: the SR latch, the output stage and its
    always-on transmission gate.
    """

    reset_well: str = "vdd"
    rest: str = "vrest"
    discharger_ground: str = "0"
    discharger_bias: str = "vbdis"
    sense_vdd: str = "vdd"
    sense_bias: str = "vbsense"
    logic_vdd: str = "vdd"


@dataclass(frozen=True)
class SynapseSupplies:
    """The supply nodes of one synapse block: ``vdd`` (the PMOS selector's source and the PMOS n-wells) and
    ``ground`` (the NMOS selector's source); the defaults are the shared nodes."""

    vdd: str = "vdd"
    ground: str = "0"


def neuron_devices(
    config: CircuitConfig, suffix: str, *, mem: str, spike: str, spikeb: str, phase: str, phaseb: str, reset: str,
    resetb: str, supplies: NeuronSupplies = NeuronSupplies(),
) -> list[str]:  # fmt: skip
    """One neuron's devices: membrane capacitor, reset gate, discharger, sensing inverter, SR latch and matched
    output stage (CIRCUIT.md, "Architecture", Neuron).

    ``suffix`` ends every element and internal node name (``"_1_0"`` in the flat netlist, ``""`` inside a
    subcircuit); the supplies and biases are the nodes of ``supplies`` (by default ``vdd``, ``vrest``,
    ``vbdis``, ``vbsense``) and ground.
    """
    c, s = config, supplies
    sense, q, qb = f"sense{suffix}", f"q{suffix}", f"qb{suffix}"
    n, p = c.logic_nmos, c.logic_pmos
    logic, vdd_s, gnd_dis = s.logic_vdd, s.sense_vdd, s.discharger_ground
    return [
        f"Cmim{suffix} {mem} 0 {_fmt(c.c_mim)}",
        f"Cwire{suffix} {mem} 0 {_fmt(c.c_membrane_wire)}" if c.c_membrane_wire > 0 else "",
        # reset transmission gate to V0
        mosfet(f"rstn{suffix}", mem, reset, s.rest, "0", NFET, c.reset_switch),
        mosfet(f"rstp{suffix}", mem, resetb, s.rest, s.reset_well, PFET, c.reset_switch),
        # discharger: biased NMOS on the membrane, switched to ground by the phase signal
        mosfet(f"disb{suffix}", mem, s.discharger_bias, f"dis{suffix}", "0", NFET, c.discharger, shared_source=True),
        mosfet(f"diss{suffix}", f"dis{suffix}", phase, gnd_dis, "0", NFET, c.discharger_switch, shared_drain=True),
        # sensing inverter: vdd - PMOS(vb_sense) - HVT PMOS - sense - LVT NMOS - 0; outside the firing
        # phase an NMOS holds its output low (no enable switch in the stack: its switching would
        # kick the HVT PMOS's source and, through the gate capacitance, the membrane)
        mosfet(f"snb{suffix}", f"sb{suffix}", s.sense_bias, vdd_s, vdd_s, PFET, c.sense_pmos_bias, shared_drain=True),
        mosfet(f"snp{suffix}", sense, mem, f"sb{suffix}", vdd_s, PFET_HVT, c.sense_pmos_hvt, shared_source=True),
        mosfet(f"snn{suffix}", sense, mem, "0", "0", NFET_LVT, c.sense_nmos_lvt),
        mosfet(f"sno{suffix}", sense, phaseb, "0", "0", NFET, n),  # holds sense low when disabled
        # SR latch of two NOR gates: q = NOR(reset, qb), qb = NOR(sense, q)
        *_nor(f"nr{suffix}", reset, qb, q, n, p, logic),
        *_nor(f"ns{suffix}", sense, q, qb, n, p, logic),
        # output stage: x = NOT q; spike = NOT x through an inverter, spikeb = x through an always-on
        # transmission gate of matched delay, so both word lines switch together (the selectors'
        # dummy switches cancel their charge only when spike and spikeb edges coincide)
        *_inverter(f"ob{suffix}", q, f"x{suffix}", n, p, logic),
        *_inverter(f"os{suffix}", f"x{suffix}", spike, c.output_nmos, c.output_pmos, logic),
        mosfet(f"otn{suffix}", spikeb, logic, f"x{suffix}", "0", NFET, c.output_nmos),
        mosfet(f"otp{suffix}", spikeb, "0", f"x{suffix}", logic, PFET, c.output_pmos),
    ]


def _neuron(config: CircuitConfig, layer: int, index: int, supplies: NeuronSupplies = NeuronSupplies()) -> list[str]:
    """Neuron ``index`` of layer ``layer`` in the flat netlist (:func:`neuron_devices` on its nodes)."""
    tag = f"{layer}_{index}"
    devices = neuron_devices(
        config, f"_{tag}", mem=membrane_node(layer, index), spike=spike_node(layer, index), spikeb=f"spikeb_{tag}",
        phase=f"phase_{layer}", phaseb=f"phaseb_{layer}", reset=f"reset_{layer}", resetb=f"resetb_{layer}",
        supplies=supplies,
    )  # fmt: skip
    return [f"* neuron {index} of layer {layer}", *devices]


def _nor(name: str, a: str, b: str, out: str, n: TransistorSize, p: TransistorSize, vdd: str = "vdd") -> list[str]:
    return [
        mosfet(f"{name}pa", f"{name}_x", a, vdd, vdd, PFET, p, shared_drain=True),
        mosfet(f"{name}pb", out, b, f"{name}_x", vdd, PFET, p, shared_source=True),
        mosfet(f"{name}na", out, a, "0", "0", NFET, n),
        mosfet(f"{name}nb", out, b, "0", "0", NFET, n),
    ]


def _inverter(name: str, a: str, out: str, n: TransistorSize, p: TransistorSize, vdd: str = "vdd") -> list[str]:
    return [
        mosfet(f"{name}p", out, a, vdd, vdd, PFET, p),
        mosfet(f"{name}n", out, a, "0", "0", NFET, n),
    ]


def synapse_devices(
    config: CircuitConfig, suffix: str, *, mem: str, spike: str, spikeb: str, gate_n: str, gate_p: str,
    supplies: SynapseSupplies = SynapseSupplies(),
) -> list[str]:  # fmt: skip
    """One synapse block's devices (CIRCUIT.md, "Architecture", Synapse block): the NMOS pair (memory transistor
    on the membrane ``mem``, gate ``gate_n``; selector to ground, gate ``spike``) and the PMOS pair (to ``vdd``;
    gates ``gate_p`` and ``spikeb``), each with a dummy switch on its internal node driven by the complementary
    word line (``config.selector_dummy_*``), and the word lines' coupling to the membrane they cross.

    ``suffix`` ends every element and internal node name (``"_1_0_2"`` in the flat netlist, ``""`` inside a
    subcircuit); ``supplies`` names the block's vdd and ground nodes.
    """
    inner_n, inner_p = f"ns{suffix}", f"ps{suffix}"
    vdd, ground = supplies.vdd, supplies.ground
    lines = [
        mosfet(f"nm{suffix}", mem, gate_n, inner_n, "0", NFET, config.synapse, shared_source=True),
        mosfet(f"ns{suffix}", inner_n, spike, ground, "0", NFET, config.synapse, shared_drain=True),
        mosfet(f"pm{suffix}", mem, gate_p, inner_p, vdd, PFET, config.synapse, shared_source=True),
        mosfet(f"ps{suffix}", inner_p, spikeb, vdd, vdd, PFET, config.synapse, shared_drain=True),
    ]
    if config.selector_dummy_nmos is not None:
        lines.append(mosfet(f"nd{suffix}", inner_n, spikeb, inner_n, "0", NFET, config.selector_dummy_nmos))
    if config.selector_dummy_pmos is not None:
        lines.append(mosfet(f"pd{suffix}", inner_p, spike, inner_p, vdd, PFET, config.selector_dummy_pmos))
    if config.c_spike_coupling > 0:
        lines += [
            f"Ccpl{suffix} {spike} {mem} {_fmt(config.c_spike_coupling)}",
            f"Ccplb{suffix} {spikeb} {mem} {_fmt(config.c_spike_coupling)}",
        ]
    return lines


def gate_bias_sources(
    layer: int, out: int, inp: int, vb_n: float, vb_p: float, off_suffix: str = ""
) -> tuple[list[str], str, str]:
    """The ideal sources of one synapse's memory-transistor gate biases (V; NaN: off, the gate goes to the shared
    ``vbn_off`` / ``vbp_off`` level, or the layer's ``vbn_off<off_suffix>``) and the two gate nodes:
    ``(lines, gate_n, gate_p)``."""
    tag = f"{layer}_{out}_{inp}"
    lines = []
    gate_n = f"vbn_off{off_suffix}"
    if not math.isnan(vb_n):
        gate_n = f"vbn_{tag}"
        lines.append(f"Vbn_{tag} {gate_n} 0 DC {_fmt(vb_n)}")
    gate_p = f"vbp_off{off_suffix}"
    if not math.isnan(vb_p):
        gate_p = f"vbp_{tag}"
        lines.append(f"Vbp_{tag} {gate_p} 0 DC {_fmt(vb_p)}")
    return lines, gate_n, gate_p


def _synapse(
    config: CircuitConfig, layer: int, out: int, inp: int, vb_n: float, vb_p: float, metered: bool = False
) -> list[str]:
    """Synapse ``inp -> out`` of layer ``layer`` in the flat netlist: its bias sources and devices (``metered``:
    on the layer's own supply, ground and off-level nodes, :func:`layer_supplies`)."""
    biases, gate_n, gate_p = gate_bias_sources(layer, out, inp, vb_n, vb_p, f"_{layer}" if metered else "")
    devices = synapse_devices(
        config, f"_{layer}_{out}_{inp}", mem=membrane_node(layer, out), spike=f"spike_{layer - 1}_{inp}",
        spikeb=f"spikeb_{layer - 1}_{inp}", gate_n=gate_n, gate_p=gate_p,
        supplies=layer_supplies(layer)[1] if metered else SynapseSupplies(),
    )  # fmt: skip
    return [f"* synapse {layer}: input {inp} -> neuron {out}", *biases, *devices]


def check_network_inputs(
    config: CircuitConfig, biases: Sequence[LayerBiases], input_times: Sequence[float] | np.ndarray
) -> np.ndarray:
    """``input_times`` as a 1-D float array, after checking it and ``biases`` against ``config.layer_sizes``
    (a ValueError naming the mismatch)."""
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
    return times


def simulation_options(config: CircuitConfig) -> list[str]:
    """The ``.temp`` and ``.options`` lines ("" when there are no options)."""
    return [
        f".temp {_fmt(config.temperature)}",
        f".options {config.spice_options}" if config.spice_options.strip() else "",
    ]


def supply_sources(config: CircuitConfig) -> list[str]:
    """The ideal supply and bias sources: ``vdd``, V0 (``vrest``), ``vbsense``, ``vbdis`` and the gate levels of
    switched-off memory transistors (``vbn_off`` = 0 V, ``vbp_off`` = vdd)."""
    vdd = config.vdd
    return [
        f"Vdd vdd 0 DC {_fmt(vdd)}",
        f"Vrest vrest 0 DC {_fmt(config.v_rest)}",
        f"Vbsense vbsense 0 DC {_fmt(config.vb_sense)}",
        f"Vbdis vbdis 0 DC {_fmt(config.vb_dis)}",
        "Vbn_off vbn_off 0 DC 0",
        f"Vbp_off vbp_off 0 DC {_fmt(vdd)}",
    ]


def layer_supplies(layer: int) -> tuple[NeuronSupplies, SynapseSupplies]:
    """The metered supply nodes of neuron layer ``layer``'s neurons and synapse blocks (:func:`metered_sources`)."""
    neuron = NeuronSupplies(
        reset_well=f"vdd_reset_{layer}", rest=f"vrest_{layer}", discharger_ground=f"vss_dis_{layer}",
        discharger_bias=f"vbdis_{layer}", sense_vdd=f"vdd_sense_{layer}", sense_bias=f"vbsense_{layer}",
        logic_vdd=f"vdd_logic_{layer}",
    )  # fmt: skip
    return neuron, SynapseSupplies(vdd=f"vdd_syn_{layer}", ground=f"vss_syn_{layer}")


def metered_sources(config: CircuitConfig, layer: int) -> list[tuple[str, str, float, str]]:
    """Neuron layer ``layer``'s own supply, bias and ammeter sources, ``(element, node, volts, group)``: each at
    the DC value of the shared source it replaces (``vdd``, ``vrest``, ``vbdis``, ``vbsense``, the 'off' gate
    levels; 0 V for the ammeters between a part and ground), so the circuit is the same as with the shared ones."""
    neuron, synapse = layer_supplies(layer)
    vdd = config.vdd
    return [
        (f"Vrest_{layer}", neuron.rest, config.v_rest, "rest"),
        (f"Vdd_reset_{layer}", neuron.reset_well, vdd, "reset_well"),
        (f"Vdd_syn_{layer}", synapse.vdd, vdd, "synapse_vdd"),
        (f"Vss_syn_{layer}", synapse.ground, 0.0, "synapse_ground"),
        (f"Vss_dis_{layer}", neuron.discharger_ground, 0.0, "discharger_ground"),
        (f"Vdd_sense_{layer}", neuron.sense_vdd, vdd, "sense_vdd"),
        (f"Vdd_logic_{layer}", neuron.logic_vdd, vdd, "logic_vdd"),
        (f"Vbsense_{layer}", neuron.sense_bias, config.vb_sense, "bias"),
        (f"Vbdis_{layer}", neuron.discharger_bias, config.vb_dis, "bias"),
        (f"Vbn_off_{layer}", f"vbn_off_{layer}", 0.0, "bias"),
        (f"Vbp_off_{layer}", f"vbp_off_{layer}", vdd, "bias"),
    ]


def stimulus_meters(config: CircuitConfig, input_times: np.ndarray) -> list[SupplyMeter]:
    """The meters of :func:`stimulus_sources`' sources: the input spikes and their inverses (group ``input``,
    layer 1) and every layer's reset, phase and inverses (group ``control``), with the same PWL points."""
    vdd = config.vdd
    meters = []
    for j, t_j in enumerate(input_times):
        points = input_points(config, float(t_j))
        spike = points if points is not None else [(0.0, 0.0)]
        meters += [
            SupplyMeter(f"Vspike_0_{j}", 1, "input", tuple(spike)),
            SupplyMeter(f"Vspikeb_0_{j}", 1, "input", tuple(_invert(spike, vdd))),
        ]
    for layer in range(1, len(config.layer_sizes)):
        control = control_points(config, layer)
        for name in ("reset", "phase"):
            meters += [
                SupplyMeter(f"V{name}_{layer}", layer, "control", tuple(control[name])),
                SupplyMeter(f"V{name}b_{layer}", layer, "control", tuple(_invert(control[name], vdd))),
            ]
    return meters


def stimulus_sources(config: CircuitConfig, input_times: np.ndarray) -> list[str]:
    """The PWL sources of the input spikes ``spike_0_j`` / ``spikeb_0_j`` (:func:`input_points`) and of every
    layer's ``reset``/``resetb`` and ``phase``/``phaseb`` (:func:`control_points`)."""
    vdd = config.vdd
    lines = ["* input spikes (layer 0) and their inverses"]
    for j, t_j in enumerate(input_times):
        points = input_points(config, float(t_j))
        if points is None:
            lines += [f"Vspike_0_{j} spike_0_{j} 0 DC 0", f"Vspikeb_0_{j} spikeb_0_{j} 0 DC {_fmt(vdd)}"]
        else:
            lines += [
                pwl_source(f"spike_0_{j}", f"spike_0_{j}", points),
                pwl_source(f"spikeb_0_{j}", f"spikeb_0_{j}", _invert(points, vdd)),
            ]
    for layer in range(1, len(config.layer_sizes)):
        control = control_points(config, layer)
        lines += [
            f"* control of layer {layer}",
            pwl_source(f"reset_{layer}", f"reset_{layer}", control["reset"]),
            pwl_source(f"resetb_{layer}", f"resetb_{layer}", _invert(control["reset"], vdd)),
            pwl_source(f"phase_{layer}", f"phase_{layer}", control["phase"]),
            pwl_source(f"phaseb_{layer}", f"phaseb_{layer}", _invert(control["phase"], vdd)),
        ]
    return lines


def word_line_capacitors(config: CircuitConfig, layer: int) -> list[str]:
    """The wire capacitance to ground of the word lines into neuron layer ``layer`` (the spikes of layer
    ``layer - 1`` and their inverses); none when ``config.c_spike_wire`` is 0."""
    if config.c_spike_wire <= 0:
        return []
    lines = []
    for j in range(config.layer_sizes[layer - 1]):
        lines += [
            f"Cwl_{layer - 1}_{j} spike_{layer - 1}_{j} 0 {_fmt(config.c_spike_wire)}",
            f"Cwlb_{layer - 1}_{j} spikeb_{layer - 1}_{j} 0 {_fmt(config.c_spike_wire)}",
        ]
    return lines


def metered_stop_time(config: CircuitConfig) -> float:
    """The stop time (s) of a metered transient: :func:`stop_time` plus :data:`ENERGY_SETTLE_FRACTION` of a phase."""
    return stop_time(config) + ENERGY_SETTLE_FRACTION * config.t_circ


def transient_line(config: CircuitConfig, t_stop: float | None = None) -> str:
    """The ``.tran`` statement: step ``edge_time``, stop ``t_stop`` (default :func:`stop_time`), largest step
    ``max_step``."""
    t_stop = stop_time(config) if t_stop is None else t_stop
    return f".tran {_fmt(config.edge_time)} {_fmt(t_stop)} 0 {_fmt(config.max_step)}"


def probe_vectors(config: CircuitConfig) -> list[str]:
    """The vectors a network simulation saves: the input spikes, then per layer the membranes and the spikes."""
    sizes = config.layer_sizes
    vectors = [f"v(spike_0_{j})" for j in range(sizes[0])]
    for layer in range(1, len(sizes)):
        vectors += [f"v({membrane_node(layer, i)})" for i in range(sizes[layer])]
        vectors += [f"v({spike_node(layer, i)})" for i in range(sizes[layer])]
    return vectors


def build_network_netlist(
    config: CircuitConfig,
    biases: Sequence[LayerBiases],
    input_times: Sequence[float] | np.ndarray,
    library: Path | str,
    *,
    title: str = "RC-Spike network",
    extra_lines: Sequence[str] = (),
    energy_meters: bool = False,
) -> Netlist:
    """The transient netlist of one sample: network ``config.layer_sizes``, gate ``biases`` per layer,
    input spikes at normalised ``input_times`` (``+inf``: no spike), sky130 models from ``library``.

    Probes every membrane and output spike (and the input spikes). ``extra_lines`` are appended
    before the analysis (test fixtures, e.g. an ideal current source).

    ``energy_meters`` (what the runner simulates; VARIATION.md section 6): the same circuit with every layer's
    parts on their own sources instead of the shared ``vdd``, ``vrest``, ``vbdis``, ``vbsense`` and 'off'
    levels (:func:`metered_sources`; same DC values), 0 V ammeters between ground and the NMOS synapses' and
    the dischargers' sources, the transient continued to :func:`metered_stop_time` (the last reset completes),
    and every source listed in :attr:`Netlist.meters` (:class:`SupplyMeter`) with its current written. The
    shared nodes then do not exist.
    """
    sizes = config.layer_sizes
    times = check_network_inputs(config, biases, input_times)
    check_name(title.replace(" ", "_"), "the netlist title")
    extra = [check_netlist_line(line, "extra_lines") for line in extra_lines]
    meters: list[SupplyMeter] = []
    if energy_meters:
        supplies = []
        for layer in range(1, len(sizes)):
            supplies.append(f"* supplies, biases and ammeters of layer {layer}")
            for element, node, volts, group in metered_sources(config, layer):
                supplies.append(f"{element} {node} 0 DC {_fmt(volts)}")
                meters.append(SupplyMeter(element, layer, group, ((0.0, volts),)))
        meters += stimulus_meters(config, times)
    else:
        supplies = supply_sources(config)
    lines = [
        f"* {title}: layers {'-'.join(map(str, sizes))}, sky130 {config.corner}, generated by imcpnn",
        include_line(library),
        *simulation_options(config),
        *supplies,
        *stimulus_sources(config, times),
    ]
    for layer in range(1, len(sizes)):
        lines += word_line_capacitors(config, layer)
        layer_bias = biases[layer - 1]
        neuron_supplies = layer_supplies(layer)[0] if energy_meters else NeuronSupplies()
        for i in range(sizes[layer]):
            for j in range(sizes[layer - 1]):
                vb_n, vb_p = layer_bias.nmos[i, j], layer_bias.pmos[i, j]
                lines += _synapse(config, layer, i, j, vb_n, vb_p, energy_meters)
                if energy_meters:
                    for element, volts in ((f"Vbn_{layer}_{i}_{j}", vb_n), (f"Vbp_{layer}_{i}_{j}", vb_p)):
                        if not math.isnan(volts):
                            meters.append(SupplyMeter(element, layer, "bias", ((0.0, float(volts)),)))
            lines += _neuron(config, layer, i, neuron_supplies)
    lines += extra
    t_stop = metered_stop_time(config) if energy_meters else stop_time(config)
    lines.append(transient_line(config, t_stop))
    text = "\n".join(line for line in lines if line) + "\n"
    return Netlist(
        text=text, vectors=tuple(probe_vectors(config)), t_stop=t_stop, layer_sizes=sizes, meters=tuple(meters)
    )
