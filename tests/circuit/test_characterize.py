"""Device characterisation against the reference numbers of CIRCUIT.md and the paper (Table 2)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from imcpnn.circuit import characterize

pytestmark = pytest.mark.spice


def test_one_device_matches_the_reference_numbers():
    """nfet_01v8 W=1 L=0.25 at V_G = 0.55 V: ~103 nA at 1.3 V, relative slope ~0.40 /V (CIRCUIT.md).

    Tolerances: 3 % and 0.01 /V cover the selector in series (0.3 % less current) and the sky130
    release; a wrong sign convention, unit (scale=1u) or sweep would miss by far more.
    """
    char = characterize(None, roles=("nmos",), measure_capacitance=False, plot=False)
    data = char.to_dict()
    point = data["reference_points"]["nmos"]
    assert point["gate_v"] == pytest.approx(0.55)
    assert point["current_a"] == pytest.approx(103e-9, rel=0.03)
    assert point["lambda"] == pytest.approx(0.40, abs=0.01)
    assert point["r2"] > 0.9999
    assert math.isnan(data["lambda_p"])


def test_full_characterization_is_written_and_close_to_the_paper(characterized):
    out, char = characterized
    data = json.loads((out / "characterization.json").read_text())
    assert (out / "iv_curves.png").stat().st_size > 10_000
    for key in ("lambda_n", "lambda_p", "lambda_dis", "e_rev_pos", "e_rev_neg", "beta_dis", "tables", "r2"):
        assert key in data
    # paper Table 2: λN 0.41, λP 0.75, λdis 0.177 (E+ 2.80, E- -1.53, E_dis 6.44)
    assert char.lambda_n == pytest.approx(0.41, abs=0.02)
    assert char.lambda_p == pytest.approx(0.75, abs=0.04)
    assert char.lambda_dis == pytest.approx(0.177, abs=0.01)
    assert char.e_rev_pos == pytest.approx(1 / (0.872 * char.lambda_n))
    assert char.e_rev_neg == pytest.approx(-1 / (0.872 * char.lambda_p))
    assert char.beta_dis == pytest.approx(0.872 * char.lambda_dis)
    assert min(char.r2_n, char.r2_p, char.r2_dis) > 0.999
    pmos = data["reference_points"]["pmos"]  # pfet_01v8 at V_G = 1.2 V: ~12 nA, ~0.77 /V
    assert pmos["current_a"] == pytest.approx(12e-9, rel=0.05)
    assert pmos["lambda"] == pytest.approx(0.77, abs=0.02)
    # effective membrane capacitance: MIM 103.3 fF + wiring 2.6 fF + transistor parasitics
    assert 110e-15 < char.c_eff_f < 140e-15
    # the sensing inverter fires at Vswitch (Table 2: 0.428 V) and, with the discharger at Vb_dis, the
    # firing phase follows the model's ramp: a neuron without input fires at the window's end
    assert data["v_switch_effective"] == pytest.approx(0.428, abs=0.002)
    ramp = data["firing_ramp"]
    assert [row["v_end"] for row in ramp] == sorted(row["v_end"] for row in ramp)
    assert abs(ramp[0]["v_end"]) < 0.005 and ramp[-1]["v_end"] > 0.4
    for row in ramp:
        circuit = 1.0 if row["t_circuit"] is None else row["t_circuit"]
        assert circuit == pytest.approx(row["t_model"], abs=0.0015)  # 1.5 ns (measured: within 0.7 ns)
    # the tables invert: the bias for a current gives that current back
    currents = np.array([5e-9, 50e-9, 200e-9])
    gates = char.nmos.gate_for_current(currents)
    assert np.interp(gates, char.nmos.gate_v, np.log(char.nmos.current_a)) == pytest.approx(np.log(currents), abs=0.01)
