"""Netlist structure of the 5-5-5 network (no simulation)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from imcpnn.circuit.config import CircuitConfig
from imcpnn.circuit.netlist import (
    NFET,
    NFET_LVT,
    PFET,
    PFET_HVT,
    LayerBiases,
    build_network_netlist,
    control_points,
    input_points,
    stop_time,
)

TRANSISTORS_PER_SYNAPSE = 6  # NMOS memory + selector + dummy switch, PMOS memory + selector + dummy switch
# reset gate 2, discharger 2, sensing inverter 3 + disable 1, NOR latch 8, two inverters 4, transmission gate 2
TRANSISTORS_PER_NEURON = 22


def _biases(rng: np.random.Generator, n_out: int, n_in: int) -> LayerBiases:
    sign = rng.integers(-1, 2, size=(n_out, n_in))  # -1, 0, +1
    nmos = np.where(sign > 0, rng.uniform(0.45, 0.6, size=sign.shape), np.nan)
    pmos = np.where(sign < 0, rng.uniform(1.05, 1.25, size=sign.shape), np.nan)
    return LayerBiases(nmos, pmos)


def _elements(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line and line[0] in "XCVI"]


def _terminals(tokens: list[str]) -> list[str]:
    count = 4 if tokens[0][0] == "X" else 2
    return tokens[1 : 1 + count]


@pytest.fixture
def network():
    config = CircuitConfig()
    rng = np.random.default_rng(1)
    biases = [_biases(rng, 5, 5), _biases(rng, 5, 5)]
    times = np.array([0.0, 0.25, 0.5, math.inf, 0.9])
    return config, biases, times, build_network_netlist(config, biases, times, "/models/sky130_reduced.spice")


def test_device_counts_of_the_5_5_5_network(network):
    config, biases, _, netlist = network
    elements = _elements(netlist.text)
    kinds = Counter(tokens[0][0] for tokens in elements)
    synapses = 2 * 5 * 5
    neurons = 2 * 5
    assert kinds["X"] == synapses * TRANSISTORS_PER_SYNAPSE + neurons * TRANSISTORS_PER_NEURON
    models = Counter(tokens[5] for tokens in elements if tokens[0][0] == "X")
    assert models[NFET_LVT] == neurons and models[PFET_HVT] == neurons
    assert models[NFET] + models[PFET] + models[NFET_LVT] + models[PFET_HVT] == kinds["X"]
    # capacitors: MIM + wire per neuron, one per spike line and its inverse, two couplings per synapse
    # (spike and spikeb lines to the membrane they cross)
    assert kinds["C"] == 2 * neurons + 2 * (5 + 5) + 2 * synapses
    n_bias = sum(int(np.isfinite(b.nmos).sum() + np.isfinite(b.pmos).sum()) for b in biases)
    # vdd, V0, vb_sense, vb_dis, the two 'off' gate levels; 5 inputs x 2; 2 layers x 4 controls; biases
    assert kinds["V"] == 6 + 10 + 8 + n_bias
    assert netlist.t_stop == pytest.approx(4 * config.t_circ)
    assert netlist.text.count(".tran") == 1


def test_every_node_is_connected_twice_and_probed(network):
    _, _, _, netlist = network
    uses: Counter[str] = Counter()
    for tokens in _elements(netlist.text):
        uses.update(_terminals(tokens))
    dangling = [node for node, count in uses.items() if count < 2 and node != "0"]
    assert dangling == []
    for layer in (1, 2):
        for i in range(5):
            assert f"v(mem_{layer}_{i})" in netlist.vectors
            assert f"v(spike_{layer}_{i})" in netlist.vectors
            assert uses[f"mem_{layer}_{i}"] >= 5 * 2 + 1  # 5 NMOS + 5 PMOS memory transistors, the MIM cap


def test_weights_set_the_right_transistor(network):
    _, biases, _, netlist = network
    lines = netlist.text.splitlines()
    for layer, bias in enumerate(biases, start=1):
        for i in range(5):
            for j in range(5):
                tag = f"{layer}_{i}_{j}"
                has_n = any(line.startswith(f"Vbn_{tag} ") for line in lines)
                has_p = any(line.startswith(f"Vbp_{tag} ") for line in lines)
                assert has_n == bool(np.isfinite(bias.nmos[i, j]))
                assert has_p == bool(np.isfinite(bias.pmos[i, j]))
                memory_n = next(line for line in lines if line.startswith(f"Xnm_{tag} "))
                assert memory_n.split()[2] == (f"vbn_{tag}" if has_n else "vbn_off")


def test_selectors_have_dummy_switches_on_their_internal_nodes(network):
    """Each selector's internal node carries a dummy switch (drain = source = that node), driven by the
    complementary word line: as wide as the selector for the NMOS pair, half as wide for the PMOS pair;
    ``selector_dummy_nmos=None`` / ``selector_dummy_pmos=None`` remove them."""
    config, biases, times, netlist = network
    lines = {line.split()[0]: line.split() for line in netlist.text.splitlines() if line.startswith("X")}
    for kind, gate, model, ratio in (("n", "spikeb_0_2", NFET, 1.0), ("p", "spike_0_2", PFET, 0.5)):
        dummy = lines[f"X{kind}d_1_3_2"]
        selector = lines[f"X{kind}s_1_3_2"]
        assert dummy[1] == dummy[3] == f"{kind}s_1_3_2" == selector[1]  # drain = source = internal node
        assert dummy[2] == gate and dummy[5] == model
        assert float(dummy[6].split("=")[1]) == pytest.approx(float(selector[6].split("=")[1]) * ratio)
    plain = build_network_netlist(
        replace(config, selector_dummy_nmos=None, selector_dummy_pmos=None), biases, times, "/models/lib.spice"
    )
    assert "Xnd_" not in plain.text and "Xpd_" not in plain.text


def test_spike_and_its_inverse_leave_the_neuron_through_matched_stages(network):
    """spike = NOT x through an inverter, spikeb = x through an always-on transmission gate: one
    stage each from the same node, so both word lines switch together."""
    _, _, _, netlist = network
    lines = {line.split()[0]: line.split() for line in netlist.text.splitlines() if line.startswith("X")}
    inverter_n, inverter_p = lines["Xos_1_4n"], lines["Xos_1_4p"]
    assert inverter_n[1] == inverter_p[1] == "spike_1_4" and inverter_n[2] == inverter_p[2] == "x_1_4"
    gate_n, gate_p = lines["Xotn_1_4"], lines["Xotp_1_4"]
    assert gate_n[1] == gate_p[1] == "spikeb_1_4" and gate_n[3] == gate_p[3] == "x_1_4"
    assert (gate_n[2], gate_p[2]) == ("vdd", "0")  # always on


def test_input_spikes_and_control_timing():
    config = CircuitConfig()
    period, edge = config.t_circ, config.edge_time
    points = input_points(config, 0.25)
    assert points is not None
    rise = next(t for t, v in points if v == config.vdd)
    assert rise == pytest.approx(1.25 * period + edge / 2)
    assert input_points(config, math.inf) is None
    assert input_points(config, 0.9999) is None  # too late to rise before the window closes
    control = control_points(config, 1)
    reset_low = [t for t, v in control["reset"] if v == 0.0]
    assert min(reset_low) < period  # reset released before the accumulation window
    assert max(reset_low) < 3 * period  # and applied again at the end of the firing window
    phase_high = [t for t, v in control["phase"] if v == config.vdd]
    assert min(phase_high) == pytest.approx(2 * period + edge / 2)
    assert stop_time(config) == pytest.approx(4 * period)


def test_bad_inputs_raise_value_errors():
    config = CircuitConfig()
    biases = [LayerBiases.off(5, 5), LayerBiases.off(5, 5)]
    with pytest.raises(ValueError, match="inputs"):
        build_network_netlist(config, biases, [0.0] * 4, "lib")
    with pytest.raises(ValueError, match="shape"):
        build_network_netlist(config, [LayerBiases.off(4, 5), LayerBiases.off(5, 5)], [0.0] * 5, "lib")
    with pytest.raises(ValueError, match=">= 0"):
        build_network_netlist(config, biases, [-0.1, 0, 0, 0, 0], "lib")
    with pytest.raises(ValueError, match="layer_sizes"):
        CircuitConfig(layer_sizes=(5,))


# -- defect 1: every string that reaches a netlist or an ngspice command line is checked ----------------------


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        (
            "spice_options",
            "reltol=1e-4\n.control\nshell touch /tmp/imcpnn_injected\n.endc",
            ["spice_options", "newline"],
        ),
        ("spice_options", "reltol=1e-4; shell id", ["spice_options", "name=value"]),
        ("spice_options", ".include /etc/passwd", ["spice_options", "dot-command"]),
        ("spice_options", 'klu "x"', ["spice_options"]),
        ("corner", "tt\n.control", ["corner", "tt, ss, ff, sf, fs"]),
        ("corner", "xx", ["corner", "tt, ss, ff, sf, fs"]),
        ("temperature", "27\n.control", ["temperature", "finite number"]),
        ("temperature", math.nan, ["temperature"]),
        ("temperature", 1e6, ["temperature", "°C"]),
        ("vdd", math.inf, ["vdd"]),
        ("vb_dis", "0.55", ["vb_dis"]),
        ("synapse", (1.0, 0.25), ["synapse", "TransistorSize"]),
    ],
)
def test_config_fields_that_reach_the_netlist_are_validated(field, value, words):
    """A newline in spice_options used to inject a .control block whose `shell` line ran; now every field
    that reaches the netlist is checked, with a ValueError naming the field and the allowed form."""
    with pytest.raises(ValueError) as caught:
        CircuitConfig(**{field: value})
    for word in words:
        assert word in str(caught.value)


def test_valid_config_strings_are_kept():
    for options in ("", "reltol=1e-4 trtol=1 klu", "method=gear  abstol=1e-12 gmin=1.5e-12"):
        assert CircuitConfig(spice_options=options).spice_options == options
    for corner in ("tt", "ss", "ff", "sf", "fs"):
        assert CircuitConfig(corner=corner).corner == corner
    with pytest.raises(ValueError, match=r"TransistorSize\.w"):
        from imcpnn.circuit.config import TransistorSize

        TransistorSize(math.inf, 0.25)


def test_names_and_paths_put_into_netlists_and_commands_are_checked(tmp_path):
    from imcpnn.circuit import SampleJob
    from imcpnn.circuit.netlist import include_line
    from imcpnn.circuit.spice import run_ngspice

    config = CircuitConfig(layer_sizes=(2, 1))
    biases = [LayerBiases.off(1, 2)]
    for path in ('/tmp/lib".control', "/tmp/lib\n.control\nshell id\n.endc", "/tmp/a\rb"):
        with pytest.raises(ValueError, match="model library path"):
            include_line(path)
        with pytest.raises(ValueError, match="model library path"):
            build_network_netlist(config, biases, [0.0, 0.0], path)
    assert include_line("/models/sky130 lib.spice") == '.include "/models/sky130 lib.spice"'
    with pytest.raises(ValueError, match="title"):
        build_network_netlist(config, biases, [0.0, 0.0], "lib", title="x\n.control")
    for lines in (["Rx a 0 1k\n.control"], [".control"], [" .endc"]):
        with pytest.raises(ValueError, match="extra_lines"):
            build_network_netlist(config, biases, [0.0, 0.0], "lib", extra_lines=lines)
    for key in ("a\nb", "a b", "../x", "", "a/b", 'a"b'):
        with pytest.raises(ValueError, match="job key"):
            SampleJob(key, (0.0, 0.0), tuple(biases))
    with pytest.raises(ValueError, match="extra_lines"):
        SampleJob("ok", (0.0, 0.0), tuple(biases), extra_lines=("Rx a 0 1\n.control",))
    # run_ngspice checks its vectors and run name before it writes anything
    with pytest.raises(ValueError, match="vectors"):
        run_ngspice("* t\n", tmp_path, vectors=["v(out)\nshell id"])
    with pytest.raises(ValueError, match="vectors"):
        run_ngspice("* t\n", tmp_path, vectors=["v(out) ; shell id"])
    with pytest.raises(ValueError, match="run name"):
        run_ngspice("* t\n", tmp_path, vectors=["v(out)"], name="x y")
    with pytest.raises(ValueError, match="timeout_s"):
        run_ngspice("* t\n", tmp_path, vectors=["v(out)"], timeout_s=math.nan)
    assert list(tmp_path.iterdir()) == []
