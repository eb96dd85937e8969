"""Weight -> bias mapping, spike-time extraction and the scale search logic (no simulation)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imcpnn.circuit.characterization import BiasTable, Characterization, fit_channel_length_modulation
from imcpnn.circuit.config import CircuitConfig
from imcpnn.circuit.mapping import weights_to_biases, weights_to_currents
from imcpnn.circuit.runner import SampleResult, crossing_time, extract_spike_times
from imcpnn.circuit.scale_search import coarse_to_fine_search


def _synthetic_characterization() -> Characterization:
    """Subthreshold-like tables: I = I_ref exp((V_G - V_ref) / 0.04 V) (NMOS), mirrored for PMOS."""
    gates_n = np.round(np.arange(0.2, 0.8001, 0.005), 6)
    gates_p = np.round(np.arange(0.9, 1.6001, 0.005), 6)
    current_n = 100e-9 * np.exp((gates_n - 0.55) / 0.04)
    current_p = 12e-9 * np.exp((1.2 - gates_p) / 0.05)
    table = lambda g, i, lam: BiasTable(g, i, np.full_like(g, lam), np.ones_like(g))  # noqa: E731
    return Characterization(
        lambda_n=0.41,
        lambda_p=0.75,
        lambda_dis=0.177,
        r2_n=1.0,
        r2_p=1.0,
        r2_dis=1.0,
        vth_circ=0.872,
        v_rest=1.3,
        nmos=table(gates_n, current_n, 0.41),
        pmos=table(gates_p, current_p, 0.75),
        discharger=table(np.array([0.554]), np.array([118e-9]), 0.177),
        discharger_current_a=118e-9,
        c_eff_f=125e-15,
        details={},
    )


def test_unit_weight_current_and_derived_parameters():
    config = CircuitConfig()
    assert weights_to_currents(np.array([[1.0]]), config)[0, 0] == pytest.approx(122.08e-9, rel=1e-3)
    char = _synthetic_characterization()
    assert char.e_rev_pos == pytest.approx(2.80, abs=0.01)
    assert char.e_rev_neg == pytest.approx(-1.53, abs=0.01)
    assert char.e_dis == pytest.approx(6.48, abs=0.02)
    assert char.beta_dis == pytest.approx(1 / char.e_dis)


def test_weights_map_to_the_right_transistor_through_the_tables():
    config = CircuitConfig(layer_sizes=(3, 2))
    char = _synthetic_characterization()
    weight = np.array([[0.5, -0.3, 0.0], [1.0, 0.2, -1.0]])
    (bias,) = weights_to_biases([weight], char, config, scale_pos=0.9, scale_neg=1.1)
    assert np.isfinite(bias.nmos).tolist() == (weight > 0).tolist()
    assert np.isfinite(bias.pmos).tolist() == (weight < 0).tolist()
    # the inverse of the synthetic law, to the interpolation's accuracy
    expected_n = 0.55 + 0.04 * np.log(0.9 * 0.5 * config.unit_current / 100e-9)
    assert bias.nmos[0, 0] == pytest.approx(expected_n, abs=1e-4)
    expected_p = 1.2 - 0.05 * np.log(1.1 * 1.0 * config.unit_current / 12e-9)
    assert bias.pmos[1, 2] == pytest.approx(expected_p, abs=1e-4)
    assert bias.nmos[1, 0] > bias.nmos[0, 0] > bias.nmos[1, 1]  # monotone in the weight
    with pytest.raises(ValueError, match="outside the characterised range"):
        weights_to_biases([np.full((2, 3), 1000.0)], char, config)
    with pytest.raises(ValueError, match="shape"):
        weights_to_biases([np.zeros((3, 2))], char, config)


def test_channel_length_modulation_fit_recovers_lambda():
    drain = np.linspace(0.43, 1.36, 94)
    current = 1e-7 * (1 + 0.4 * (drain - 1.3))
    i0, lam, r2 = fit_channel_length_modulation(drain, current, 1.3, pmos=False)
    assert (i0, lam, r2) == pytest.approx((1e-7, 0.4, 1.0))
    i0, lam, _ = fit_channel_length_modulation(drain, 1e-8 * (1 + 0.75 * (1.3 - drain)), 1.3, pmos=True)
    assert (i0, lam) == pytest.approx((1e-8, 0.75))


def test_crossing_time_interpolates_linearly():
    t = np.linspace(0.0, 10.0, 11)
    ramp = t * 0.18  # crosses 0.9 at t = 5
    assert crossing_time(t, ramp, 0.9, 0.0, 10.0) == pytest.approx(5.0)
    assert crossing_time(t, ramp + 0.05, 0.9, 0.0, 10.0) == pytest.approx(5.0 - 0.05 / 0.18)
    assert crossing_time(t, ramp, 0.9, 6.0, 10.0) == 6.0  # already above at the window start
    assert crossing_time(t, ramp, 5.0, 0.0, 10.0) == math.inf  # never reaches the level
    assert crossing_time(t, 1.8 - ramp, 0.9, 0.0, 10.0, rising=False) == pytest.approx(5.0)


def test_spike_times_are_normalised_to_the_firing_window():
    config = CircuitConfig(layer_sizes=(1, 2, 1))
    period = config.t_circ
    time = np.linspace(0.0, 4 * period, 4001)

    def step(at: float) -> np.ndarray:
        return np.clip((time - at) / 1e-9, 0.0, 1.0) * config.vdd

    waveforms = {
        "time": time,
        "spike_1_0": step(2.3 * period),  # layer 1 fires in [2T, 3T]: t = 0.3
        "spike_1_1": step(1.5 * period) * 0,  # never
        "spike_2_0": step(3.75 * period),  # layer 2 fires in [3T, 4T]: t = 0.75
    }
    times = extract_spike_times(waveforms, config)
    assert times[0][0] == pytest.approx(0.3 + 0.5e-9 / period, abs=1e-6)
    assert times[0][1] == math.inf
    assert times[1][0] == pytest.approx(0.75 + 0.5e-9 / period, abs=1e-6)
    record = SampleResult("k", True, times).to_record()
    assert record["spike_times"][0][1] is None
    assert SampleResult.from_record(record).spike_times[0][1] == math.inf


@pytest.mark.parametrize("two_dimensional", [False, True])
def test_scale_search_finds_the_grid_optimum(two_dimensional: bool):
    target = (0.83, 1.12) if two_dimensional else (0.91, 0.91)
    mixing = np.array([[1.0, -0.4], [0.3, 0.8], [0.5, 0.5], [-0.2, 1.0]])
    calls: list[int] = []

    def residual_fn(points):
        calls.append(len(points))
        return {p: mixing @ (np.array(p) - np.array(target)) + 0.001 * np.sin(7 * p[0]) for p in points}

    best, rmse = coarse_to_fine_search(residual_fn, start=1.0, two_dimensional=two_dimensional)
    assert best == pytest.approx(target, abs=0.011)
    assert sum(calls) <= (20 if two_dimensional else 10)
    assert min(rmse.values()) == rmse[best]
