"""Mismatch statistics from the sky130 models (issue 13; VARIATION.md sections 1 and 3): a seeded Monte-Carlo DC
characterisation, reproducible by its seed, whose Vth spread falls with the gate area (the Pelgrom law)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from imcpnn.circuit.characterization import Characterization, MismatchStatistics
from imcpnn.circuit.characterize import characterize
from imcpnn.circuit.config import CircuitConfig, TransistorSize
from imcpnn.circuit.mismatch import fit_pelgrom, measure_device
from imcpnn.cli.main import main

CONFIG = CircuitConfig()
NMOS_GATES = (0.46, 0.50)  # V: about 11 and 30 nA at V0 for the paper's 1 x 0.25 µm
PMOS_GATES = (1.14,)  # V: about 33 nA


@pytest.mark.spice
def test_the_monte_carlo_is_reproducible_with_its_seed():
    first = measure_device(CONFIG, "nmos", CONFIG.synapse, NMOS_GATES, instances=20, seed=3)
    again = measure_device(CONFIG, "nmos", CONFIG.synapse, NMOS_GATES, instances=20, seed=3)
    other = measure_device(CONFIG, "nmos", CONFIG.synapse, NMOS_GATES, instances=20, seed=4)
    assert first.to_dict() == again.to_dict()
    assert not np.allclose(first.sigma_vth_v, other.sigma_vth_v)
    # a Vth term only (VARIATION.md 1): the same gate-referred spread at every bias, the current's spread large
    assert first.sigma_vth_v[0] == pytest.approx(first.sigma_vth_v[1], rel=1e-3)
    assert 0.005 < first.sigma_vth_v[0] < 0.025  # about 12 mV at W 1 µm, L 0.25 µm
    assert 0.1 < first.sigma_current_rel[0] < 0.7
    assert np.all(first.sigma_lambda > 0)
    assert first.nominal_lambda == pytest.approx([0.41, 0.41], abs=0.01)


@pytest.mark.spice
def test_the_vth_spread_falls_with_the_gate_area():
    sizes = (TransistorSize(0.5, 0.25), TransistorSize(1.0, 0.25), TransistorSize(2.0, 0.5), TransistorSize(4.0, 1.0))
    for role, gates in (("nmos", NMOS_GATES[1:]), ("pmos", PMOS_GATES)):
        devices = [measure_device(CONFIG, role, size, gates, instances=40, seed=1) for size in sizes]
        sigma = [d.sigma_vth_v[0] for d in devices]
        assert sigma == sorted(sigma, reverse=True)  # W·L 0.125, 0.25, 1, 4 µm²
        assert sigma[0] > 4 * sigma[-1]
        fit = fit_pelgrom(role, devices, gates[0])
        assert fit.a_vt_v_um > 0
        if role == "pmos":  # the model's constant, sw_mm_vth0 of pfet_01v8: 5.856 mV·µm, no per-bin factor
            assert fit.a_vt_v_um == pytest.approx(5.856e-3, rel=0.15)
            assert fit.r2 > 0.95


@pytest.mark.spice
def test_the_statistics_are_stored_in_the_characterization_and_load_back():
    char = characterize(None, roles=("nmos",), measure_capacitance=False, plot=False)
    devices = tuple(
        measure_device(CONFIG, "nmos", size, NMOS_GATES[1:], instances=10, seed=2)
        for size in (CONFIG.synapse, TransistorSize(2.0, 0.5))
    )
    stats = MismatchStatistics("tt_mm", "tt", 27.0, 2, 10, devices, (fit_pelgrom("nmos", devices, NMOS_GATES[1]),), 1.0)
    data = json.loads(json.dumps(replace(char, mismatch=stats).to_dict()))
    assert data["mismatch"]["seed"] == 2 and data["mismatch"]["instances"] == 10
    assert "mismatch" not in Characterization.from_dict(data).details
    loaded = Characterization.from_dict(data).mismatch
    assert loaded is not None and loaded.to_dict() == stats.to_dict()
    assert loaded.device("nmos", 2.0, 0.5).sigma_vth_v[0] < loaded.device("nmos", 1.0, 0.25).sigma_vth_v[0]
    assert Characterization.from_dict(char.to_dict()).mismatch is None  # a file without it loads as before


def test_the_monte_carlo_options_need_mismatch(tmp_path, capsys):
    assert main(["circuit", "characterize", "--out", str(tmp_path / "c"), "--mc-seed", "3"]) != 0
    assert "--mc-seed: for --mismatch only" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
