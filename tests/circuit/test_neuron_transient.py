"""One synapse and one neuron in transient against the closed form of the IMC-aware neuron."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from imcpnn.circuit import CircuitConfig, LayerBiases, SampleJob, simulate_sample
from imcpnn.circuit.netlist import accumulation_start, build_network_netlist, firing_start
from imcpnn.circuit.spice import model_library, run_ngspice

pytestmark = pytest.mark.spice

inf = math.inf


def test_single_synapse_charges_the_membrane_as_the_closed_form(characterized):
    """Input spike at t = 0 through one synapse (w = +0.6 on neuron 0, w = -0.3 on neuron 1).

    Closed form (MODEL.md section 1, one input, constant coefficients): v(t) = E (1 - exp(-w t / E))
    with E = 1 / (Vth λ) (E+ for w > 0, E- for w < 0), λ and the current taken from the
    characterisation at the synapse's gate bias, and w = I T / (C_eff Vth) with the measured
    effective capacitance. Tolerance 0.004 in v (3.5 mV): the reset switch's charge injection and
    the spike line's coupling (~1 mV each), the voltage dependence of the junction capacitances
    (~0.3 % of C_eff) and the residual of the linear current fit (R² > 0.9999) add up to ~3 mV.
    """
    _, char = characterized
    config = CircuitConfig(layer_sizes=(5, 2))
    period, vth = config.t_circ, config.vth_circ
    weights = {0: 0.6, 1: -0.3}
    current = {i: w * char.c_eff_f * vth / period for i, w in weights.items()}
    nmos = np.full((2, 5), np.nan)
    pmos = np.full((2, 5), np.nan)
    nmos[0, 0] = float(char.nmos.gate_for_current(current[0]))
    pmos[1, 0] = float(char.pmos.gate_for_current(-current[1]))
    job = SampleJob("one_synapse", (0.0, math.inf, math.inf, math.inf, math.inf), (LayerBiases(nmos, pmos),))
    result = simulate_sample(job, config)
    assert result.ok, result.message
    time = result.waveforms["time"]
    query = accumulation_start(config, 1) + period * np.linspace(0.05, 1.0, 20)
    t_norm = (query - accumulation_start(config, 1)) / period
    for neuron, table in ((0, char.nmos), (1, char.pmos)):
        k = int(np.argmin(np.abs(table.gate_v - (nmos[0, 0] if neuron == 0 else pmos[1, 0]))))
        lam = float(table.lam[k])
        e_rev = 1 / (vth * lam) if neuron == 0 else -1 / (vth * lam)
        w = weights[neuron]
        expected = e_rev * (1 - np.exp(-w * t_norm / e_rev))
        spice = -(np.interp(query, time, result.waveforms[f"mem_1_{neuron}"]) - config.v_rest) / vth
        assert np.max(np.abs(spice - expected)) < 0.004, (neuron, spice - expected)
        # the non-ideality is visible: an ideal integrator would be off by far more
        assert abs(spice[-1] - w) > 0.02
    # firing phase (neuron 0): discharger ramp with β_dis from its end potential, within 10 ns
    v_end = -(np.interp(firing_start(config, 1), time, result.waveforms["mem_1_0"]) - config.v_rest) / vth
    beta = char.beta_dis
    expected_fire = 1 - math.log(1 - beta * v_end) / math.log(1 - beta)
    assert result.spike_times[0][0] == pytest.approx(expected_fire, abs=0.010)
    assert result.spike_times[0][1] == math.inf  # a negative potential never reaches the threshold


def test_dummy_switches_cancel_the_selector_charge_at_turn_off(characterized):
    """When the input spikes fall at the start of the firing phase, each selector that was on injects
    charge into its internal node, and the memory transistor, still biased on, refills the node from
    the membrane: without compensation each active NMOS synapse makes the neuron fire 3-6 ns early
    (docs/circuit.md). Four synapses of w = 0.1 and one of w = 0.4 end the accumulation at the same
    potential (the model's v_end are equal). With the dummy switches (the default) the four fire within
    1 ns of the one; without them, 3-6 ns earlier per extra synapse."""
    _, char = characterized

    def fire(config: CircuitConfig, weights: list[float], times: list[float]) -> tuple[float, float]:
        scale = char.c_eff_f / config.c_m
        nmos = np.full((1, 5), np.nan)
        for j, w in enumerate(weights):
            if w > 0:
                nmos[0, j] = float(char.nmos.gate_for_current(scale * w * config.unit_current))
        job = SampleJob("tail", tuple(times), (LayerBiases(nmos, np.full((1, 5), np.nan)),))
        result = simulate_sample(job, config)
        assert result.ok, result.message
        v_end = (
            -(np.interp(firing_start(config, 1), result.waveforms["time"], result.waveforms["mem_1_0"]) - config.v_rest)
            / config.vth_circ
        )
        return result.spike_times[0][0], v_end

    compensated = CircuitConfig(layer_sizes=(5, 1))
    plain = replace(compensated, selector_dummy_nmos=None, selector_dummy_pmos=None)
    extra_ns = {}
    for name, config in (("compensated", compensated), ("plain", plain)):
        t_one, v_one = fire(config, [0.4, 0, 0, 0, 0], [0, inf, inf, inf, inf])
        t_four, v_four = fire(config, [0.1, 0.1, 0.1, 0.1, 0], [0, 0, 0, 0, inf])
        assert v_four == pytest.approx(v_one, abs=0.005)  # the same end potential, to 4 mV
        extra_ns[name] = (t_one - t_four) * config.t_circ * 1e9
    assert abs(extra_ns["compensated"]) < 1.0, extra_ns
    assert 3 * 3.0 < extra_ns["plain"] < 3 * 6.0, extra_ns


def test_spike_and_inverse_switch_together(characterized, tmp_path):
    """The neuron's output stage drives spike and spikeb from one node through one stage each
    (inverter, transmission gate): their vdd/2 crossings, when the neuron fires and when it is
    reset, are within 0.2 ns of each other, as the next layer's dummy switches need."""
    _, char = characterized
    config = CircuitConfig(layer_sizes=(5, 1, 1))
    nmos = np.full((1, 5), np.nan)
    nmos[0, 0] = float(char.nmos.gate_for_current(0.6 * char.c_eff_f / config.c_m * config.unit_current))
    biases = [LayerBiases(nmos, np.full((1, 5), np.nan)), LayerBiases.off(1, 1)]
    netlist = build_network_netlist(config, biases, [0.0, inf, inf, inf, inf], model_library())
    data = run_ngspice(netlist.text, tmp_path, vectors=["v(spike_1_0)", "v(spikeb_1_0)"])
    time_s, half = data["time"], config.vdd / 2

    def crossings(v: np.ndarray) -> np.ndarray:
        above = v > half
        k = np.flatnonzero(above[1:] != above[:-1])
        return time_s[k] + (half - v[k]) * (time_s[k + 1] - time_s[k]) / (v[k + 1] - v[k])

    spike, inverse = crossings(data["v(spike_1_0)"]), crossings(data["v(spikeb_1_0)"])
    assert len(spike) == len(inverse) == 2  # fires in its window, falls at the reset
    assert np.max(np.abs(spike - inverse)) < 0.2e-9, (spike, inverse)
