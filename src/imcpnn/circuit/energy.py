"""Energy per inference of the RC-Spike circuit: measured from SPICE and estimated by the model (VARIATION.md
section 6).

**The accounting.** A metered netlist (:func:`imcpnn.circuit.netlist.build_network_netlist` with
``energy_meters``) gives every part of every layer its own ideal source at the DC value of the shared one it
replaces, and puts 0 V ammeters between ground and the NMOS synapses' and the dischargers' sources. The
transient starts with every layer in reset (the DC operating point) and ends after the last layer's reset has
restored its membranes, in the same state: the energy delivered over it, ``E = Σ_sources ∫ V (-i) dt``, is
what one inference costs, all of it dissipated (no stored energy is left over). That sum over the sources
(:attr:`EnergyBreakdown.sources`) is the ground truth.

The split by part (:data:`PARTS`, :attr:`EnergyBreakdown.parts`) distributes the same sum, so the parts add up
to the total exactly. Every source's energy goes to its own part, except V0's: the reset source restores
the charge that the NMOS synapses and the discharger took from the membrane and that the PMOS synapses did
not put back, so each of these is charged ``V0`` times its charge (read from its ammeter or its supply):

- ``synapses`` = ``E(vdd_syn) + V0 (Q_nmos - Q_pmos)``: the PMOS synapses' supply, plus the reset energy
  of the net charge the synapses took from the membrane (a PMOS synapse's charge saves ``V0 Q`` at reset);
- ``discharger`` = ``V0 Q_dis``;
- ``membrane_reset`` = ``E(vrest) + E(reset well) - V0 (Q_nmos - Q_pmos + Q_dis)``: what the reset source
  delivers beyond that (charge lost by other paths: junctions, the sensing inverter's gate, the reset
  gate's own channel charge), and the reset PMOS's n-well;
- ``sensing_inverter``, ``output_logic`` (the latch, the output stage and the next layer's word lines),
  ``control_drivers`` (the layer's reset, phase and inverse lines), ``input_drivers`` (layer 1: the input
  spikes and their inverses), ``bias`` (the gate biases): the energy their sources deliver.

The control and input lines are ideal PWL sources: one that charges a gate capacitance takes back the
energy it stored when the line falls, so their ``V·I`` integral is small. A CMOS driver would draw
``C V²`` from its supply per cycle; :attr:`EnergyBreakdown.driver_charge` keeps the charge each line group
stored at its rising edges (:func:`_rising_charge`) so that ``vdd`` times it can be quoted beside the total.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import CircuitConfig
from .netlist import METER_GROUPS, SupplyMeter, input_points

#: The parts of a layer that the energy is split into (module doc).
PARTS = (
    "synapses", "membrane_reset", "discharger", "sensing_inverter", "output_logic", "control_drivers",
    "input_drivers", "bias",
)  # fmt: skip
#: The source groups whose delivered energy is each part's own, every group in one part (``synapses``,
#: ``discharger`` and ``membrane_reset`` also share V0's energy, module doc; the 0 V ammeters deliver none).
_OWN_GROUPS = {
    "synapses": ("synapse_vdd", "synapse_ground"),
    "membrane_reset": ("rest", "reset_well"),
    "discharger": ("discharger_ground",),
    "sensing_inverter": ("sense_vdd",),
    "output_logic": ("logic_vdd",),
    "control_drivers": ("control",),
    "input_drivers": ("input",),
    "bias": ("bias",),
}
#: The groups whose charge is kept (C): what the reset source delivered, what the NMOS synapses and the
#: dischargers sank to ground, what the PMOS synapses' supply delivered.
CHARGE_GROUPS = ("rest", "synapse_ground", "discharger_ground", "synapse_vdd")

FEMTO = 1e-15


def _trapezoid(values: np.ndarray, time_s: np.ndarray) -> float:
    return float(np.trapezoid(values, time_s))


def _rising_charge(meter: SupplyMeter, time_s: np.ndarray, delivered: np.ndarray) -> float:
    """The net charge (C) a PWL line delivered from the start of each rising edge to the start of the next
    falling one (or the transient's end): what it stored on its load while high, which a CMOS driver draws
    from vdd. Net over the whole high interval, so the trapezoidal rule's ringing at the edges cancels."""
    points = meter.points
    total = 0.0
    for k, ((t_a, v_a), (_, v_b)) in enumerate(itertools.pairwise(points)):
        if v_b <= v_a:
            continue
        later = [t for (t, v), (_, w) in itertools.pairwise(points[k + 1 :]) if w < v]
        end = later[0] if later else float(time_s[-1])
        inside = (time_s >= t_a) & (time_s <= end)
        total += _trapezoid(delivered[inside], time_s[inside])
    return total


@dataclass(frozen=True)
class EnergyBreakdown:
    """The energy of one inference (J), per neuron layer (index 0 = layer 1).

    Attributes:
        sources: per layer, the energy each :data:`~imcpnn.circuit.netlist.METER_GROUPS` group delivered
            (``∫ V (-i) dt``; the ground truth).
        parts: per layer, the split by :data:`PARTS` (module doc); it adds up to the sources' sum.
        charges: per layer, the charge (C) the reset source delivered (``rest``), the NMOS synapses and the
            dischargers sank (``synapse_ground``, ``discharger_ground``) and the PMOS synapses' supply
            delivered (``synapse_vdd``).
        driver_charge: per layer, the charge (C) the ``control`` and ``input`` lines stored on their loads at
            their rising edges (:func:`_rising_charge`; ``vdd`` times it is what CMOS drivers would draw).
        synaptic_events: per layer, the input spikes that arrived at an active synapse.
    """

    sources: tuple[dict[str, float], ...]
    parts: tuple[dict[str, float], ...]
    charges: tuple[dict[str, float], ...] = ()
    driver_charge: tuple[dict[str, float], ...] = ()
    synaptic_events: tuple[int, ...] = ()

    @property
    def total(self) -> float:
        """The energy of the inference (J): the sum over every source."""
        return float(sum(sum(layer.values()) for layer in self.sources))

    def layer_totals(self) -> list[float]:
        return [float(sum(layer.values())) for layer in self.parts]

    def part_totals(self) -> dict[str, float]:
        """Each part summed over the layers (J)."""
        return {part: float(sum(layer.get(part, 0.0) for layer in self.parts)) for part in PARTS}

    @property
    def n_synaptic_events(self) -> int:
        return int(sum(self.synaptic_events))

    def to_dict(self) -> dict[str, Any]:
        """JSON form (joules and coulombs)."""
        return {
            "sources": [dict(layer) for layer in self.sources],
            "parts": [dict(layer) for layer in self.parts],
            "charges": [dict(layer) for layer in self.charges],
            "driver_charge": [dict(layer) for layer in self.driver_charge],
            "synaptic_events": list(self.synaptic_events),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnergyBreakdown:
        """The breakdown of :meth:`to_dict`'s form; a ValueError when it is not one."""
        try:
            layers = {
                key: tuple({str(k): float(v) for k, v in layer.items()} for layer in data.get(key, []))
                for key in ("sources", "parts", "charges", "driver_charge")
            }
            events = tuple(int(n) for n in data.get("synaptic_events", []))
        except (AttributeError, TypeError, ValueError):
            raise ValueError("its 'energy' is not a breakdown of numbers per layer") from None
        if not layers["parts"] or len(layers["parts"]) != len(layers["sources"]):
            raise ValueError("its 'energy' has no parts, or not one per layer")
        return cls(**layers, synaptic_events=events)


def split_by_part(sources: Mapping[str, float], charges: Mapping[str, float], v_rest: float) -> dict[str, float]:
    """One layer's energy split by :data:`PARTS` (J) from what its source groups delivered (J) and the charges
    of :data:`CHARGE_GROUPS` (C): the module doc's rules, which add up to ``sum(sources.values())``."""
    own = {part: sum(sources.get(group, 0.0) for group in groups) for part, groups in _OWN_GROUPS.items()}
    net_synapse = charges.get("synapse_ground", 0.0) - charges.get("synapse_vdd", 0.0)
    discharger = charges.get("discharger_ground", 0.0)
    own["synapses"] += v_rest * net_synapse
    own["discharger"] += v_rest * discharger
    own["membrane_reset"] -= v_rest * (net_synapse + discharger)
    return {part: float(own[part]) for part in PARTS}


def synaptic_events(
    biases: Sequence[Any], input_times: Sequence[float], layer_spikes: Sequence[Sequence[float]], config: CircuitConfig
) -> tuple[int, ...]:
    """Per neuron layer, the input spikes that arrive at an active synapse (a finite gate bias, NMOS or PMOS):
    layer 1's inputs count when they rise inside the window (:func:`~imcpnn.circuit.netlist.input_points`),
    a deeper layer's when the previous layer fired in its window (``layer_spikes``, normalised, ``+inf``: none)."""
    events = []
    for layer, bias in enumerate(biases, start=1):
        active = np.isfinite(np.asarray(bias.nmos)) | np.isfinite(np.asarray(bias.pmos))  # [N_out, N_in]
        if layer == 1:
            arrived = np.array([input_points(config, float(t)) is not None for t in input_times])
        else:
            previous = np.asarray(layer_spikes[layer - 2], dtype=float)
            arrived = np.isfinite(previous) & (previous <= 1.0)
        events.append(int(active[:, arrived].sum()))
    return tuple(events)


def spice_energy(
    time_s: np.ndarray,
    currents: Mapping[str, np.ndarray],
    meters: Sequence[SupplyMeter],
    config: CircuitConfig,
    events: Sequence[int] = (),
) -> EnergyBreakdown:
    """The :class:`EnergyBreakdown` of one metered transient: ``currents`` maps each meter's
    :attr:`~imcpnn.circuit.netlist.SupplyMeter.vector` to ngspice's current (A, + node to ground through the
    source) at ``time_s``; each source delivers ``∫ V (-i) dt`` (trapezoids over ngspice's own time points)."""
    time_s = np.asarray(time_s, dtype=float)
    n_layers = config.n_weight_layers
    sources = [dict.fromkeys(METER_GROUPS, 0.0) for _ in range(n_layers)]
    charges = [dict.fromkeys(CHARGE_GROUPS, 0.0) for _ in range(n_layers)]
    driver = [{"control": 0.0, "input": 0.0} for _ in range(n_layers)]
    for meter in meters:
        if not 1 <= meter.layer <= n_layers:
            raise ValueError(f"meter {meter.source} serves layer {meter.layer}; the network has {n_layers} layers")
        delivered = -np.asarray(currents[meter.vector], dtype=float)
        index = meter.layer - 1
        sources[index][meter.group] += _trapezoid(meter.voltage(time_s) * delivered, time_s)
        if meter.group in CHARGE_GROUPS:
            charge = _trapezoid(delivered, time_s)
            charges[index][meter.group] += -charge if meter.group.endswith("_ground") else charge
        if meter.group in driver[index]:
            driver[index][meter.group] += _rising_charge(meter, time_s, delivered)
    parts = [split_by_part(s, q, config.v_rest) for s, q in zip(sources, charges, strict=True)]
    return EnergyBreakdown(
        sources=tuple(sources), parts=tuple(parts), charges=tuple(charges), driver_charge=tuple(driver),
        synaptic_events=tuple(int(n) for n in events),
    )  # fmt: skip


def per_event(total_j: float, events: int) -> float | None:
    """Energy per synaptic event (J), None without events."""
    return total_j / events if events > 0 and math.isfinite(total_j) else None


# --- the model's estimate ---------------------------------------------------------------------------------

#: Quadrature points per phase of the model's membrane trajectory (the synapses' charge, the sensing
#: inverter's current): the trapezoid error on the smooth exponential trajectories is below 1e-4 relative.
TRAJECTORY_POINTS = 201
#: A model spike time at or after this (normalised) counts as no spike: the model clips a neuron that does
#: not fire to 1, the end of its window.
NO_SPIKE = 1.0 - 1e-9


@dataclass(frozen=True)
class EnergyConstants:
    """What the model's energy estimate takes from SPICE where it has no equation (VARIATION.md section 6),
    measured by :func:`measure_energy_constants` for one circuit config (``layer_sizes``).

    Attributes:
        c_eff_f: the membrane's effective capacitance (F; the characterisation's transient measurement), which
            turns the model's normalised potential into charge, ``Q = C_eff Vth_circ Δv``.
        membrane_v: the membrane voltages (V) of the sensing inverter's DC sweeps;
        sense_enabled_a, sense_disabled_a: the sensing inverter's supply current (A) at those voltages in the
            firing phase (enabled) and outside it (its output held low);
        logic_prefire_a: the output logic's supply current (A) at those voltages in the firing phase before the
            latch is set: the crowbar current of the NOR gate whose input, the sensing inverter's output, sits
            between the rails while the membrane nears the switching point;
        logic_per_spike_j: per layer, the output logic's switching energy per output spike (J: the latch, the
            output stage and the next layer's word lines), beside the pre-fire crowbar current;
        logic_idle_j: per layer, the output logic's energy per neuron per inference without a spike (J);
        reset_residual_j: per layer, per neuron, the membrane-reset part (J) that the charge accounting leaves
            (:func:`split_by_part`: charge lost by other paths than the synapses and the discharger);
        control_j, bias_j: per layer, the energy of its control lines and of its gate biases (J) per inference;
        input_per_spike_j: the input drivers' energy per input spike (J).
    """

    layer_sizes: tuple[int, ...]
    c_eff_f: float
    membrane_v: tuple[float, ...]
    sense_enabled_a: tuple[float, ...]
    sense_disabled_a: tuple[float, ...]
    logic_prefire_a: tuple[float, ...]
    logic_per_spike_j: tuple[float, ...]
    logic_idle_j: tuple[float, ...]
    reset_residual_j: tuple[float, ...]
    control_j: tuple[float, ...]
    bias_j: tuple[float, ...]
    input_per_spike_j: float

    def __post_init__(self) -> None:
        n_layers = len(self.layer_sizes) - 1
        for name in ("logic_per_spike_j", "logic_idle_j", "reset_residual_j", "control_j", "bias_j"):
            values = tuple(float(v) for v in getattr(self, name))
            if len(values) != n_layers:
                raise ValueError(f"EnergyConstants.{name} needs one value per layer ({n_layers}); got {len(values)}")
            object.__setattr__(self, name, values)
        grid = tuple(float(v) for v in self.membrane_v)
        if len(grid) < 2 or any(b <= a for a, b in itertools.pairwise(grid)):
            raise ValueError("EnergyConstants.membrane_v must be an increasing grid of at least two voltages")
        for name in ("sense_enabled_a", "sense_disabled_a", "logic_prefire_a"):
            if len(getattr(self, name)) != len(grid):
                raise ValueError(f"EnergyConstants.{name} needs one current per membrane_v point")
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        object.__setattr__(self, "membrane_v", grid)
        object.__setattr__(self, "layer_sizes", tuple(int(n) for n in self.layer_sizes))
        if not (math.isfinite(self.c_eff_f) and self.c_eff_f > 0):
            raise ValueError(f"EnergyConstants.c_eff_f must be a capacitance > 0 (F); got {self.c_eff_f!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in ((f, getattr(self, f)) for f in self.__dataclass_fields__)
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnergyConstants:
        try:
            return cls(**{name: data[name] for name in cls.__dataclass_fields__})
        except KeyError as missing:
            raise ValueError(f"energy constants lack {missing}") from None

    def prefire_current(self, membrane_v: np.ndarray) -> np.ndarray:
        """The output logic's supply current (A) before its latch is set, in the firing phase (interpolated)."""
        return np.interp(np.asarray(membrane_v, dtype=float), self.membrane_v, self.logic_prefire_a)

    def sense_current(self, membrane_v: np.ndarray, enabled: bool) -> np.ndarray:
        """The sensing inverter's supply current (A) at membrane voltages ``membrane_v`` (linear interpolation of
        the DC sweep, held beyond its ends)."""
        table = self.sense_enabled_a if enabled else self.sense_disabled_a
        return np.interp(np.asarray(membrane_v, dtype=float), self.membrane_v, table)


@dataclass(frozen=True)
class EnergyEstimate:
    """The model's energy per inference of ``B`` samples (J), split as :class:`EnergyBreakdown` splits SPICE's.

    ``parts[l][part]``: ``[B]`` per layer and :data:`PARTS` entry; ``synaptic_events``: ``[B, L]``;
    ``spikes``: the model's output spikes per layer ``[B, L]`` (neurons that fire in their window).
    """

    parts: tuple[dict[str, np.ndarray], ...]
    synaptic_events: np.ndarray
    spikes: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """``[B]``: the energy of each sample's inference (J)."""
        return np.sum([np.sum([layer[p] for p in PARTS], axis=0) for layer in self.parts], axis=0)

    def sample(self, k: int) -> EnergyBreakdown:
        """Sample ``k`` as an :class:`EnergyBreakdown` (its ``parts`` and ``synaptic_events``; no sources)."""
        parts = tuple({p: float(layer[p][k]) for p in PARTS} for layer in self.parts)
        return EnergyBreakdown(
            sources=tuple({} for _ in parts), parts=parts,
            synaptic_events=tuple(int(n) for n in self.synaptic_events[k]),
        )  # fmt: skip

    def mean_parts(self) -> list[dict[str, float]]:
        """Per layer, each part's mean over the samples (J)."""
        return [{p: float(np.mean(layer[p])) for p in PARTS} for layer in self.parts]


def _arrived(times: np.ndarray, config: CircuitConfig, layer: int) -> np.ndarray:
    """Which inputs of neuron layer ``layer`` arrive in its accumulation window (``[B, N_in]``): layer 1's when
    the input step rises before the window closes (:func:`~imcpnn.circuit.netlist.input_points`), a deeper
    layer's when the previous layer's neuron fires before the end of its window."""
    if layer == 1:
        latest = 1.0 - config.edge_time / config.t_circ
        return np.isfinite(times) & (times >= 0) & (times < latest)
    return np.isfinite(times) & (times < NO_SPIKE)


def _cumulative(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Cumulative trapezoid integral of ``values`` [..., Q] over ``grid`` [Q], starting at 0."""
    steps = 0.5 * (values[..., 1:] + values[..., :-1]) * np.diff(grid)
    return np.concatenate([np.zeros((*values.shape[:-1], 1)), np.cumsum(steps, axis=-1)], axis=-1)


def estimate_energy(
    weights: Sequence[Any],
    input_times: np.ndarray,
    params: Any,
    config: CircuitConfig,
    constants: EnergyConstants,
    scales: tuple[float, float] = (1.0, 1.0),
) -> EnergyEstimate:
    """The model's energy per inference (VARIATION.md section 6), without SPICE.

    ``weights``: ``[N_out, N_in]`` per layer (arrays or tensors); ``input_times`` ``[B, N_in]`` (normalised,
    ``+inf``: none); ``params``: the :class:`~imcpnn.params.NeuronParams` whose exact RC-Spike solution gives
    the spike times and the membrane trajectories; ``scales``: the current scales ``(a+, a-)`` of the mapping
    ``I = a± C_m Vth_circ w / T_circ`` (:func:`~imcpnn.circuit.mapping.weights_to_currents`). Per layer:

    - synapses: each active synapse carries ``I_ij T_circ ∫_{t_j}^1 (1 - v_i(t)/E±) dt`` (the first-order
      ``I_ij T_circ (1 - t_j)`` with the reversal-potential factor of the model's own trajectory ``v_i``) from
      the membrane (NMOS, ``Q_N``) or from vdd (PMOS, ``Q_P``); energy ``V0 Q_N + (Vdd - V0) Q_P`` (the reset
      source restores ``Q_N`` and is spared ``Q_P``, as :func:`split_by_part` counts SPICE's);
    - discharger: ``V0 C_eff Vth_circ (v_final - v_end)``, the discharger's ramp from the accumulation's end
      ``v_end`` to the firing window's end (:func:`imcpnn.physics.neuron.firing_potential`), the membrane held
      at or above 0 V (``v <= V0 / Vth_circ``);
    - sensing inverter: ``Vdd ∫ I_sense(V(t)) dt`` over the layer's trajectory in the metered transient (V0
      in reset, the accumulation, the firing ramp), ``I_sense`` from the DC sweeps of ``constants``;
    - output logic: ``Vdd ∫ I_prefire(V(t)) dt`` over the firing ramp until the neuron fires (or its window
      ends), ``logic_per_spike_j`` per model spike and ``logic_idle_j`` per neuron; membrane reset,
      control and bias: ``constants`` per neuron or per layer; input drivers: ``input_per_spike_j`` per input
      spike (layer 1).

    Weights below :data:`~imcpnn.circuit.mapping.MIN_ABS_WEIGHT` are off, as in the mapping.
    """
    import torch

    from imcpnn.functional import rc_spike_potential_trace
    from imcpnn.physics.neuron import firing_potential

    from .mapping import MIN_ABS_WEIGHT, as_numpy, weights_to_currents
    from .model import model_spike_times
    from .netlist import accumulation_start, firing_start, metered_stop_time

    times = np.atleast_2d(np.asarray(input_times, dtype=float))
    if tuple(constants.layer_sizes) != tuple(config.layer_sizes):
        raise ValueError(
            f"the energy constants were measured for layers {constants.layer_sizes}; the config has "
            f"{config.layer_sizes}: measure them for this network (measure_energy_constants)"
        )
    weights = [as_numpy(w) for w in weights]
    if len(weights) != config.n_weight_layers:
        raise ValueError(f"got {len(weights)} weight matrices for a network of {config.n_weight_layers} layers")
    layer_times = model_spike_times(weights, times, params)
    v0, vdd, vth, period = config.v_rest, config.vdd, config.vth_circ, config.t_circ
    v_floor = v0 / vth  # the membrane at 0 V
    grid = np.linspace(0.0, 1.0, TRAJECTORY_POINTS)
    query = torch.as_tensor(grid, dtype=torch.float64)
    reversal = {"e_rev_pos": params.e_rev_pos, "e_rev_neg": params.e_rev_neg, "leak": params.leak}
    t_end = metered_stop_time(config)
    batch = times.shape[0]
    parts: list[dict[str, np.ndarray]] = []
    events = np.zeros((batch, len(weights)), dtype=int)
    spikes = np.zeros((batch, len(weights)), dtype=int)
    inputs = times
    for layer, weight in enumerate(weights, start=1):
        index = layer - 1
        n_out = weight.shape[0]
        active = np.abs(weight) >= MIN_ABS_WEIGHT
        current = np.abs(np.where(active, weights_to_currents(weight, config, *scales), 0.0))  # A, [N_out, N_in]
        arrived = _arrived(inputs, config, layer)  # [B, N_in]
        events[:, index] = (arrived[:, None, :] & active[None]).sum(axis=(1, 2))
        trace_inputs = torch.as_tensor(np.where(arrived, inputs, np.inf), dtype=torch.float64)
        with torch.no_grad():
            v = rc_spike_potential_trace(trace_inputs, torch.as_tensor(weight), query, **reversal).numpy()
        v = np.minimum(v, v_floor)  # [B, N_out, Q]
        # the synapses' charge: I T ∫_{t_j}^1 (1 - v/E±) dt, per polarity
        onset = np.where(arrived, np.clip(inputs, 0.0, 1.0), 1.0)  # [B, N_in]
        charge = {}
        for sign, e_rev in ((1, params.e_rev_pos), (-1, params.e_rev_neg)):
            cumulative = _cumulative(1.0 - v / e_rev, grid)  # [B, N_out, Q]
            before = np.stack(
                [np.stack([np.interp(onset[b], grid, cumulative[b, i]) for i in range(n_out)]) for b in range(batch)]
            )  # fmt: skip  [B, N_out, N_in]
            share = cumulative[..., -1:] - before  # ∫_{t_j}^1 (1 - v_i/E) dt
            polarity = (np.sign(weight) == sign) & active
            charge[sign] = period * np.sum(np.where(polarity[None], current[None] * share, 0.0), axis=(1, 2))
        v_end = v[..., -1]
        with torch.no_grad():
            ramp = firing_potential(
                torch.as_tensor(v_end)[..., None], query[None, None, :], beta_dis=params.beta_dis
            ).numpy()
        ramp = np.minimum(ramp, v_floor)  # [B, N_out, Q]
        discharger_charge = constants.c_eff_f * vth * np.sum(ramp[..., -1] - v_end, axis=1)
        # the sensing inverter over the layer's whole metered transient
        reset_time = accumulation_start(config, layer) + max(t_end - (firing_start(config, layer) + period), 0.0)
        idle = constants.sense_current(np.array([v0]), enabled=False)[0] * reset_time
        accumulating = np.trapezoid(constants.sense_current(v0 - v * vth, enabled=False), grid, axis=-1) * period
        firing = np.trapezoid(constants.sense_current(v0 - ramp * vth, enabled=True), grid, axis=-1) * period
        sense = vdd * np.sum(idle + accumulating + firing, axis=1)
        fired = layer_times[index] < NO_SPIKE  # [B, N_out]
        spikes[:, index] = fired.sum(axis=1)
        # the logic's crowbar current in the firing phase until the neuron fires (or its window ends)
        until = np.clip(layer_times[index], 0.0, 1.0)[..., None]  # [B, N_out, 1]
        crowbar = np.where(grid <= until, constants.prefire_current(v0 - ramp * vth), 0.0)
        prefire = vdd * period * np.sum(np.trapezoid(crowbar, grid, axis=-1), axis=1)
        n_inputs = arrived.sum(axis=1)
        parts.append({
            "synapses": v0 * charge[1] + (vdd - v0) * charge[-1],
            "membrane_reset": np.full(batch, n_out * constants.reset_residual_j[index]),
            "discharger": v0 * discharger_charge,
            "sensing_inverter": sense,
            "output_logic": prefire + spikes[:, index] * constants.logic_per_spike_j[index]
            + n_out * constants.logic_idle_j[index],
            "control_drivers": np.full(batch, constants.control_j[index]),
            "input_drivers": n_inputs * constants.input_per_spike_j if layer == 1 else np.zeros(batch),
            "bias": np.full(batch, constants.bias_j[index]),
        })  # fmt: skip
        inputs = layer_times[index]
    return EnergyEstimate(parts=tuple(parts), synaptic_events=events, spikes=spikes)


# --- measuring the constants in SPICE ---------------------------------------------------------------------

#: The weights of :func:`measure_energy_constants`' transients: every neuron of a layer driven by one input
#: (layer 1: input 0 at t = 0; deeper layers: the previous layer's neuron 0) with a weight that makes it fire
#: early in its window, or, in the layer to be silenced, one that keeps it from firing.
FIRING_WEIGHT = 0.6
SILENCING_WEIGHT = -0.4
#: The sensing inverter's DC sweep: membrane voltages (V).
SENSE_SWEEP_STEP = 0.01


def _sense_sweep(
    config: CircuitConfig, library: Any, work_dir: Any, enabled: bool, timeout_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The membrane voltages ``0, 0.01, ..., vdd`` and the supply currents (A) of the sensing inverter and of
    the output logic there: a DC sweep of one neuron with its membrane forced by a source, in the firing phase
    when ``enabled`` (reset held high: the latch stays unset, as before the neuron fires), else in the
    accumulation phase."""
    from .netlist import NeuronSupplies, include_line, neuron_devices, simulation_options
    from .spice import run_ngspice

    vdd = config.vdd
    phase, phaseb = (vdd, 0.0) if enabled else (0.0, vdd)
    reset, resetb = (vdd, 0.0) if enabled else (0.0, vdd)
    devices = neuron_devices(
        config, "_s", mem="m", spike="sp", spikeb="spb", phase="ph", phaseb="phb", reset="rs", resetb="rsb",
        supplies=NeuronSupplies(sense_vdd="vdds", logic_vdd="vddl"),
    )  # fmt: skip
    lines = [
        "* sensing inverter supply current against the membrane voltage",
        include_line(library),
        *simulation_options(config),
        f"Vdds vdds 0 DC {vdd!r}",
        f"Vddl vddl 0 DC {vdd!r}",
        f"Vdd vdd 0 DC {vdd!r}",
        f"Vrest vrest 0 DC {config.v_rest!r}",
        f"Vbsense vbsense 0 DC {config.vb_sense!r}",
        f"Vbdis vbdis 0 DC {config.vb_dis!r}",
        f"Vph ph 0 DC {phase!r}",
        f"Vphb phb 0 DC {phaseb!r}",
        f"Vrs rs 0 DC {reset!r}",
        f"Vrsb rsb 0 DC {resetb!r}",
        "Vm m 0 DC 0",
        *(line for line in devices if line),
        f".dc Vm 0 {vdd!r} {SENSE_SWEEP_STEP!r}",
    ]
    name = "sense_enabled" if enabled else "sense_disabled"
    vectors = ["v(m)", "i(vdds)", "i(vddl)"]
    data = run_ngspice("\n".join(lines), work_dir, vectors=vectors, timeout_s=timeout_s, name=name)
    return np.asarray(data["v(m)"]), -np.asarray(data["i(vdds)"]), -np.asarray(data["i(vddl)"])


def constant_jobs(config: CircuitConfig, characterization: Any) -> list[Any]:
    """The transients of :func:`measure_energy_constants`: ``all_fire`` (every neuron fires early) and, per
    layer ``l``, ``silent_l`` (the layers before it fire, layer ``l`` is kept from firing)."""
    from .jobs import SampleJob
    from .netlist import LayerBiases

    scale = characterization.c_eff_f / config.c_m
    gate_on = float(characterization.nmos.gate_for_current(FIRING_WEIGHT * scale * config.unit_current))
    gate_off = float(characterization.pmos.gate_for_current(-SILENCING_WEIGHT * scale * config.unit_current))
    sizes = config.layer_sizes
    inputs = tuple(0.0 for _ in range(sizes[0]))

    def biases(silent: int | None) -> tuple[Any, ...]:
        layers = []
        for layer in range(1, len(sizes)):
            bias = LayerBiases.off(sizes[layer], sizes[layer - 1])
            if layer == silent:
                bias.pmos[:, 0] = gate_off
            else:
                bias.nmos[:, 0] = gate_on
            layers.append(bias)
        return tuple(layers)

    context = f"energy constants, characterization {characterization.digest()}"
    jobs = [SampleJob("all_fire", inputs, biases(None), context=context)]
    jobs += [SampleJob(f"silent_{layer}", inputs, biases(layer), context=context) for layer in range(1, len(sizes))]
    return jobs


def measure_energy_constants(
    config: CircuitConfig,
    characterization: Any,
    work_dir: Any,
    *,
    timeout_s: float = 600.0,
    log: Any = print,
) -> EnergyConstants:
    """Measure :class:`EnergyConstants` in SPICE for ``config``'s network (a few seconds of CPU a transient):
    the sensing inverter's two DC sweeps and the transients of :func:`constant_jobs`. The output logic's energy
    per spike of layer ``l`` is the difference between ``all_fire`` and ``silent_l`` over its neurons, its idle
    energy ``silent_l``'s; the membrane-reset residual, the control lines', the biases' and the input drivers'
    energies are ``all_fire``'s. ``characterization`` maps the weights to gate biases and gives ``c_eff_f``."""
    from pathlib import Path

    from .netlist import firing_start, membrane_node
    from .runner import simulate_sample
    from .spice import model_library

    if not (math.isfinite(characterization.c_eff_f) and characterization.c_eff_f > 0):
        raise ValueError(
            "the characterisation has no effective membrane capacitance (c_eff_f): the energy model needs it; "
            "characterise in SPICE, or give --c-eff to a CSV characterisation"
        )
    work = Path(work_dir)
    library = model_library(corner=config.corner)
    voltages, enabled, prefire = _sense_sweep(config, library, work / "sense", True, timeout_s)
    _, disabled, _ = _sense_sweep(config, library, work / "sense", False, timeout_s)
    results = {}
    for job in constant_jobs(config, characterization):
        log(f"energy constants: simulating {job.key}")
        result = simulate_sample(
            job, config, library=library, timeout_s=timeout_s, keep_waveforms=True, energy_meters=True
        )
        if not result.ok or result.energy is None:
            raise RuntimeError(f"the energy-constant transient {job.key} failed ({result.cause}): {result.message}")
        results[job.key] = result
    sizes = config.layer_sizes
    full = results["all_fire"]
    for layer in range(1, len(sizes)):
        silent = results[f"silent_{layer}"]
        if not all(math.isfinite(t) for t in full.spike_times[layer - 1]) or any(
            math.isfinite(t) for t in silent.spike_times[layer - 1]
        ):
            raise RuntimeError(
                f"the energy-constant transients did not fire as designed in layer {layer}: all_fire "
                f"{full.spike_times[layer - 1]}, silent_{layer} {silent.spike_times[layer - 1]}"
            )

    def crowbar(result: Any, layer: int) -> float:
        """The pre-fire crowbar energy (J) of layer ``layer``'s neurons in a transient: ``Vdd ∫ I_prefire(V)``
        over the firing phase until each neuron's spike (or its window's end)."""
        time_s, start = result.waveforms["time"], firing_start(config, layer)
        total = 0.0
        for i, t_spike in enumerate(result.spike_times[layer - 1]):
            end = start + config.t_circ * (t_spike if math.isfinite(t_spike) else 1.0)
            inside = (time_s >= start) & (time_s <= end)
            current = np.interp(result.waveforms[membrane_node(layer, i)][inside], voltages, prefire)
            total += config.vdd * _trapezoid(current, time_s[inside])
        return total

    per_spike, idle = [], []
    for layer in range(1, len(sizes)):
        n = sizes[layer]
        silent_run = results[f"silent_{layer}"]
        silent = silent_run.energy.parts[layer - 1]["output_logic"] - crowbar(silent_run, layer)
        idle.append(silent / n)
        per_spike.append((full.energy.parts[layer - 1]["output_logic"] - crowbar(full, layer) - silent) / n)
    parts = full.energy.parts
    return EnergyConstants(
        layer_sizes=sizes, c_eff_f=float(characterization.c_eff_f), membrane_v=tuple(voltages),
        sense_enabled_a=tuple(enabled), sense_disabled_a=tuple(disabled), logic_prefire_a=tuple(prefire),
        logic_per_spike_j=tuple(per_spike),
        logic_idle_j=tuple(idle),
        reset_residual_j=tuple(parts[k]["membrane_reset"] / sizes[k + 1] for k in range(len(parts))),
        control_j=tuple(layer["control_drivers"] for layer in parts), bias_j=tuple(layer["bias"] for layer in parts),
        input_per_spike_j=parts[0]["input_drivers"] / sizes[0],
    )  # fmt: skip
