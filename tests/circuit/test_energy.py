"""Energy per inference (VARIATION.md section 6): the metered netlist, SPICE's accounting and the model's estimate."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from imcpnn.circuit import CircuitConfig, LayerBiases, SampleJob
from imcpnn.circuit.energy import (
    PARTS,
    EnergyBreakdown,
    EnergyConstants,
    estimate_energy,
    measure_energy_constants,
    split_by_part,
)
from imcpnn.circuit.jobs import SampleResult
from imcpnn.circuit.mapping import weights_to_biases
from imcpnn.circuit.netlist import METER_GROUPS, build_network_netlist, metered_stop_time, stop_time
from imcpnn.circuit.runner import simulate_sample
from imcpnn.params import NeuronParams

ONE_NEURON = CircuitConfig(layer_sizes=(1, 1))


def test_the_metered_netlist_is_the_same_circuit_on_its_own_sources():
    """Every device of the shared-supply netlist is there, on the same nodes except the supplies, which become one
    source per layer and part at the same DC value; the shared nodes are gone, every source is metered."""
    config = CircuitConfig(layer_sizes=(3, 2, 2))
    rng = np.random.default_rng(2)
    biases = [
        LayerBiases(np.where(rng.random((2, 3)) < 0.5, 0.5, np.nan), np.where(rng.random((2, 3)) < 0.5, 1.2, np.nan)),
        LayerBiases(np.full((2, 2), 0.5), np.full((2, 2), np.nan)),
    ]
    plain = build_network_netlist(config, biases, [0.1, math.inf, 0.5], "lib")
    metered = build_network_netlist(config, biases, [0.1, math.inf, 0.5], "lib", energy_meters=True)
    supplies = {"vdd", "vrest", "vbdis", "vbsense", "vbn_off", "vbp_off"}

    def devices(text: str) -> list[str]:
        rows = []
        for line in text.splitlines():
            if line[:1] in "XC":
                tokens = line.split()
                count = 4 if line[0] == "X" else 2
                nodes = [
                    "SUPPLY" if n in supplies or n.startswith(("vdd_", "vrest_", "vbdis_", "vbsense_", "vbn_off_",
                                                               "vbp_off_", "vss_")) else n
                    for n in tokens[1 : 1 + count]
                ]  # fmt: skip
                rows.append(
                    " ".join([tokens[0], *[("SUPPLY" if n == "0" else n) for n in nodes], *tokens[1 + count :]])
                )
        return sorted(rows)

    assert devices(plain.text) == devices(metered.text)
    metered_nodes = {token for line in metered.text.splitlines() if line[:1] in "XC" for token in line.split()[1:5]}
    assert not metered_nodes & supplies
    sources = [line.split()[0] for line in metered.text.splitlines() if line.startswith("V")]
    assert sorted(m.source for m in metered.meters) == sorted(sources)
    assert {m.group for m in metered.meters} == set(METER_GROUPS)
    for line in metered.text.splitlines():  # the per-layer supplies sit at the shared ones' values
        if line.startswith(("Vdd_", "Vrest_", "Vss_")):
            value = float(line.split()[-1])
            assert value == {"Vdd": config.vdd, "Vrest": config.v_rest, "Vss": 0.0}[line.split("_")[0]]
    assert metered.t_stop == pytest.approx(metered_stop_time(config)) and metered.t_stop > stop_time(config)
    assert plain.meters == () and plain.t_stop == stop_time(config)


def test_the_parts_add_up_to_what_the_sources_delivered():
    rng = np.random.default_rng(0)
    for _ in range(20):
        sources = {group: float(rng.normal(0, 1e-13)) for group in METER_GROUPS}
        charges = {group: float(rng.normal(0, 1e-13)) for group in ("rest", "synapse_ground", "discharger_ground",
                                                                    "synapse_vdd")}  # fmt: skip
        parts = split_by_part(sources, charges, 1.3)
        assert set(parts) == set(PARTS)
        assert sum(parts.values()) == pytest.approx(sum(sources.values()), rel=1e-12, abs=1e-30)


def test_records_keep_their_energy_and_older_ones_still_load():
    energy = EnergyBreakdown(
        sources=({"rest": 1e-13, "sense_vdd": 2e-13},), parts=({p: 1e-14 for p in PARTS},),
        charges=({"rest": 5e-14},), driver_charge=({"control": 1e-14, "input": 2e-14},), synaptic_events=(3,),
    )  # fmt: skip
    result = SampleResult("s", True, [[0.5]], digest="d", energy=energy)
    back = SampleResult.from_record(json.loads(json.dumps(result.to_record())))
    assert back.energy == energy and back.energy.total == pytest.approx(3e-13)
    old = {"key": "s", "ok": True, "spike_times": [[0.5]], "digest": "d"}  # written before the energy meters
    assert SampleResult.from_record(old).energy is None
    with pytest.raises(ValueError, match="energy"):
        SampleResult.from_record({**old, "energy": {"parts": "no"}})


def _flat_constants(config: CircuitConfig) -> EnergyConstants:
    """Constants with every part but the synapses and the discharger at zero (for checks of those formulas)."""
    n = config.n_weight_layers
    return EnergyConstants(
        layer_sizes=config.layer_sizes, c_eff_f=115e-15, membrane_v=(0.0, 1.8), sense_enabled_a=(0.0, 0.0),
        sense_disabled_a=(0.0, 0.0), logic_prefire_a=(0.0, 0.0), logic_per_spike_j=(0.0,) * n, logic_idle_j=(0.0,) * n,
        reset_residual_j=(0.0,) * n, control_j=(0.0,) * n, bias_j=(0.0,) * n, input_per_spike_j=0.0,
    )  # fmt: skip


def test_the_model_charges_a_synapse_its_current_over_the_rest_of_the_window():
    """VARIATION.md section 6: an active NMOS synapse takes ``I T (1 - t_j)`` from the membrane (times the
    reversal-potential factor; none with |E| = 1e6), which the reset source restores at V0; a PMOS one takes it
    from vdd and spares the reset source, ``(vdd - V0) I T (1 - t_j)``. The discharger ramps from the end of the
    accumulation to the end of the firing window: ``V0 C_eff Vth (v_final - v_end)``."""
    config = ONE_NEURON
    params = NeuronParams(e_rev_pos=1e6, e_rev_neg=-1e6, beta_dis=0.0)
    constants = _flat_constants(config)
    current = 0.3 * config.unit_current
    for weight, per_coulomb in ((0.3, config.v_rest), (-0.3, config.vdd - config.v_rest)):
        estimate = estimate_energy([np.array([[weight]])], np.array([[0.25]]), params, config, constants)
        assert estimate.parts[0]["synapses"][0] == pytest.approx(per_coulomb * current * config.t_circ * 0.75, rel=1e-4)
        v_end = weight * 0.75
        expected = config.v_rest * constants.c_eff_f * config.vth_circ * 1.0  # the ideal ramp: v_final = v_end + 1
        assert estimate.parts[0]["discharger"][0] == pytest.approx(expected, rel=1e-4), v_end
        assert estimate.synaptic_events.tolist() == [[1]]
    late = estimate_energy([np.array([[0.3]])], np.array([[math.inf]]), params, config, constants)
    assert late.parts[0]["synapses"][0] == 0.0 and late.synaptic_events.tolist() == [[0]]


@pytest.mark.spice
def test_spice_counts_a_known_charge_drawn_from_the_membrane(tmp_path):
    """An ideal current source draws a known charge ``Q = I t`` from a neuron's membrane in its accumulation
    window. The reset source restores it: against the same neuron without the source, the charge V0 delivers
    beyond what the synapses' and the discharger's ammeters measured grows by ``Q`` and the membrane-reset part
    by ``V0 Q``. The parts add up to what the sources delivered."""
    config = ONE_NEURON
    current, start, length = 60e-9, 1.1e-6, 0.7e-6  # 42 fC, the membrane falls by about 0.36 V
    ramp = [(0.0, 0.0), (start, 0.0), (start + 1e-9, current), (start + length, current), (start + length + 1e-9, 0.0)]
    load = "Iload mem_1_0 0 PWL(" + " ".join(f"{t:.9g} {i:.9g}" for t, i in ramp) + ")"
    charge = current * (length + 1e-9)
    biases = (LayerBiases.off(1, 1),)
    results = {
        name: simulate_sample(
            SampleJob(name, (math.inf,), biases, extra_lines=lines), config, keep_waveforms=False, energy_meters=True
        )
        for name, lines in (("bare", ()), ("loaded", (load,)))
    }
    residual = {}
    for name, result in results.items():
        assert result.ok, result.message
        energy = result.energy
        assert sum(sum(layer.values()) for layer in energy.parts) == pytest.approx(energy.total, rel=1e-9)
        q = energy.charges[0]
        assert energy.sources[0]["rest"] == pytest.approx(config.v_rest * q["rest"], rel=1e-9)  # a DC source
        residual[name] = (q["rest"] - q["synapse_ground"] + q["synapse_vdd"] - q["discharger_ground"], energy)
    assert residual["loaded"][0] - residual["bare"][0] == pytest.approx(charge, rel=0.02)
    reset_growth = residual["loaded"][1].parts[0]["membrane_reset"] - residual["bare"][1].parts[0]["membrane_reset"]
    assert reset_growth == pytest.approx(config.v_rest * charge, rel=0.02)
    # the loaded neuron starts its firing phase lower: its discharger takes less, and it fires
    assert math.isfinite(results["loaded"].spike_times[0][0])


SMALL = CircuitConfig(layer_sizes=(3, 3, 2))
#: The model's error on the total energy per inference, per sample. Over 10 Iris test samples per flow
#: (docs/circuit.md, "Energy per inference") the estimate was within 10.0 % of SPICE on every sample (4-5 % on
#: average); a random small network exercises other trajectories, so the test allows 15 %.
TOTAL_TOLERANCE = 0.15


@pytest.mark.spice
def test_the_model_estimate_follows_spice(characterized, tmp_path):
    """The model's energy per inference against SPICE's on a 3-3-2 network with the characterised model: the
    constants measured in SPICE, then two samples simulated; each total within :data:`TOTAL_TOLERANCE`."""
    _, characterization = characterized
    config = SMALL
    constants = measure_energy_constants(config, characterization, tmp_path / "constants", log=lambda _: None)
    weights = [
        np.array([[0.5, 0.3, -0.2], [0.2, -0.3, 0.6], [0.4, 0.4, 0.0]]),
        np.array([[0.6, -0.2, 0.3], [0.1, 0.5, 0.2]]),
    ]
    times = np.array([[0.1, 0.5, 0.0], [0.7, 0.2, 0.0]])
    scale = characterization.c_eff_f / config.c_m
    biases = tuple(weights_to_biases(weights, characterization, config, scale))
    params = characterization.neuron_params
    estimate = estimate_energy(weights, times, params, config, constants, (scale, scale))
    for k, row in enumerate(times):
        job = SampleJob(f"s{k}", tuple(row), biases)
        result = simulate_sample(job, config, keep_waveforms=False, energy_meters=True)
        assert result.ok, result.message
        spice = result.energy
        assert estimate.total[k] == pytest.approx(spice.total, rel=TOTAL_TOLERANCE)
        assert tuple(estimate.synaptic_events[k]) == spice.synaptic_events
        model_synapses = sum(layer["synapses"][k] for layer in estimate.parts)
        spice_synapses = sum(layer["synapses"] for layer in spice.parts)
        assert model_synapses == pytest.approx(spice_synapses, rel=0.15)


def test_constants_need_one_value_per_layer():
    with pytest.raises(ValueError, match="one value per layer"):
        replace(_flat_constants(ONE_NEURON), control_j=(0.0, 0.0))
    with pytest.raises(ValueError, match="measured for layers"):
        estimate_energy([np.ones((1, 1))], np.zeros((1, 1)), NeuronParams(), CircuitConfig(layer_sizes=(1, 1, 1)),
                        _flat_constants(ONE_NEURON))  # fmt: skip


def test_the_energy_round_trips_through_report_json():
    from imcpnn.circuit import IDEAL_PARAMS, FlowResult, Report, ScaleSearchOptions
    from imcpnn.circuit.report import CharacterizationSummary, EnergySummary, FlowEnergy

    layers = ({p: 10.0 for p in PARTS}, {p: 5.0 for p in PARTS})
    energy = FlowEnergy(
        n_samples=2, spice=EnergySummary(layers, 40.0, sources=({"rest": 120.0}, {"rest": 60.0})),
        model=EnergySummary(tuple({p: v * 1.1 for p, v in layer.items()} for layer in layers), 40.0),
        total_rel_errors=(0.1, 0.1), cmos_driver_fj={"control": 130.0, "input": 600.0},
    )  # fmt: skip
    flow = FlowResult(name="ann_to_imc", params=IDEAL_PARAMS, scales=(0.9, 0.8), two_dimensional=True, rmse_ns=20.0,
                      energy=energy)  # fmt: skip
    report = Report(
        characterization=CharacterizationSummary(0.41, 0.75, 0.177, 2.8, -1.53, 0.154), flows=(flow,), n_samples=2,
        n_calibration=1, search=ScaleSearchOptions(), search_start=0.82, config=CircuitConfig(), wall_time_s=1.0,
    )  # fmt: skip
    data = json.loads(json.dumps(report.to_dict()))
    spice = data["energy"]["ann_to_imc"]["spice"]
    assert spice["total_fj"] == pytest.approx(120.0) and spice["per_synaptic_event_fj"] == pytest.approx(3.0)
    assert data["energy"]["ann_to_imc"]["model_error"]["total_rel"] == pytest.approx(0.1)
    assert json.loads(json.dumps(Report.from_dict(data).to_dict())) == data
