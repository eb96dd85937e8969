"""Exact solvers against an independent scipy integration of the ODE (spec sections 2, 3)."""

import math

import numpy as np
import pytest
import torch

from imcpnn.functional import rc_spike_potential, rc_spike_potential_trace, ttfs_spike_times
from reference_ode import ode_first_crossing, ode_potential

REVERSAL = [(1.0, -1.0), (2.0, -2.0), (10.0, -10.0), (2.80, -1.53), (0.5, -0.5), (math.inf, -math.inf)]


def _inputs(batch=3, n_in=12, n_out=4, silent=2, scale=1.0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    times = torch.rand(batch, n_in, generator=gen, dtype=torch.float64)
    times[0, :silent] = math.inf  # inputs that never spike
    weight = scale * torch.randn(n_out, n_in, generator=gen, dtype=torch.float64)
    return times, weight


@pytest.mark.parametrize(("e_pos", "e_neg"), REVERSAL)
@pytest.mark.parametrize("leak", [0.0, 0.7])
def test_rc_spike_end_potential_matches_ode(e_pos, e_neg, leak):
    times, weight = _inputs()
    v_end = rc_spike_potential(times, weight, e_rev_pos=e_pos, e_rev_neg=e_neg, leak=leak)
    expected = [
        [ode_potential(times[b].numpy(), weight[i].numpy(), e_pos, e_neg, leak) for i in range(weight.shape[0])]
        for b in range(times.shape[0])
    ]
    np.testing.assert_allclose(v_end.numpy(), np.array(expected), rtol=1e-8, atol=1e-9)


def test_potential_is_bounded_by_reversal_potentials():
    times, weight = _inputs(batch=8, n_in=200, scale=5.0)
    v_end = rc_spike_potential(times, weight, e_rev_pos=2.0, e_rev_neg=-1.5)
    assert float(v_end.max()) <= 2.0 and float(v_end.min()) >= -1.5


def test_trace_matches_ode_at_query_times():
    times, weight = _inputs(batch=2, n_in=10, n_out=3)
    query = torch.tensor([0.0, 0.13, 0.5, 0.77, 1.0], dtype=torch.float64)
    trace = rc_spike_potential_trace(times, weight, query, e_rev_pos=2.0, e_rev_neg=-2.0)
    for b in range(2):
        for i in range(3):
            expected = [ode_potential(times[b].numpy(), weight[i].numpy(), 2.0, -2.0, t_end=float(t)) for t in query]
            np.testing.assert_allclose(trace[b, i].numpy(), expected, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize(("e_pos", "e_neg"), [(2.0, -2.0), (1.5, -1.0), (10.0, -10.0), (math.inf, -math.inf)])
@pytest.mark.parametrize("leak", [0.0, 0.3])
def test_ttfs_spike_times_match_ode(e_pos, e_neg, leak):
    window = 3.0
    gen = torch.Generator().manual_seed(1)
    times = window * 0.6 * torch.rand(4, 15, generator=gen, dtype=torch.float64)
    times[1, :4] = math.inf
    weight = 0.35 * torch.randn(6, 15, generator=gen, dtype=torch.float64) + 0.3
    weight[0] = -0.1  # an inhibited neuron: silent
    out = ttfs_spike_times(times, weight, e_rev_pos=e_pos, e_rev_neg=e_neg, window=window, leak=leak)
    expected = np.array(
        [
            [ode_first_crossing(times[b].numpy(), weight[i].numpy(), e_pos, e_neg, window, leak) for i in range(6)]
            for b in range(4)
        ]
    )
    assert np.isinf(expected).any() and np.isfinite(expected).any(), "test data must have silent and firing neurons"
    np.testing.assert_array_equal(np.isinf(out.numpy()), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(out.numpy()[finite], expected[finite], rtol=1e-7, atol=1e-8)


def test_ttfs_with_no_input_spikes_is_silent():
    times = torch.full((2, 5), math.inf)
    out = ttfs_spike_times(times, torch.ones(3, 5), e_rev_pos=4.0, e_rev_neg=-4.0, window=2.0)
    assert torch.isinf(out).all()


@pytest.mark.parametrize("beta_dis", [0.0, 0.15, 0.6])
def test_firing_ramp_matches_ode_and_reaches_threshold_at_the_fire_time(beta_dis):
    """Spec section 2: the discharger ramp dv/dt = a (1 - β v) against scipy, and v(t_out) = 1."""
    from scipy.integrate import solve_ivp

    from imcpnn.functional import rc_spike_fire
    from imcpnn.physics.neuron import firing_potential

    rate = 1.0 if beta_dis == 0 else -math.log1p(-beta_dis) / beta_dis
    v_end = torch.tensor([-0.5, 0.0, 0.3, 0.9], dtype=torch.float64)
    t = torch.linspace(0.0, 1.0, 11, dtype=torch.float64)
    ramp = firing_potential(v_end[:, None], t[None, :], beta_dis=beta_dis)
    for i, v0 in enumerate(v_end.tolist()):
        sol = solve_ivp(
            lambda _t, v: rate * (1 - beta_dis * v), (0.0, 1.0), [v0], t_eval=t.numpy(), rtol=1e-11, atol=1e-12
        )
        np.testing.assert_allclose(ramp[i].numpy(), sol.y[0], rtol=0, atol=1e-8)
    inside = v_end[1:]  # v_end < 0 reaches threshold only after the window (t_out is clipped to 1)
    t_out = rc_spike_fire(inside, beta_dis=beta_dis)
    crossed = firing_potential(inside, t_out, beta_dis=beta_dis)
    torch.testing.assert_close(crossed, torch.ones_like(crossed), rtol=0, atol=1e-12)
