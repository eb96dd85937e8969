"""Edge cases of the physics and of bad input (issue 15, items 4 and 5): limits, empty shapes, dtypes."""

import math

import pytest
import torch

from imcpnn import functional as fn
from imcpnn.layers import build_network
from imcpnn.physics.neuron import firing_potential

E2 = {"e_rev_pos": 2.0, "e_rev_neg": -2.0}


@pytest.mark.parametrize("method", ["exact", "dstd"])
def test_ttfs_asymptote_at_the_threshold_never_fires(method):
    # every input at t = 0 with w = 100 and E+ = 1: v relaxes to g/f = E+ = 1 = Vth, which it never reaches
    out = fn.ttfs_spike_times(
        torch.zeros(1, 4), torch.full((2, 4), 100.0), e_rev_pos=1.0, e_rev_neg=-1.0, window=4.0, method=method, steps=8
    )
    assert torch.isinf(out).all()


@pytest.mark.parametrize("beta_dis", [1e-3, 1e-6, 1e-8, 1e-300])
def test_rc_spike_fire_keeps_its_precision_for_small_beta(beta_dis):
    potential = torch.linspace(0.0, 1.0, 11)
    single = fn.rc_spike_fire(potential, beta_dis=beta_dis)
    double = fn.rc_spike_fire(potential.double(), beta_dis=beta_dis)
    torch.testing.assert_close(single.double(), double, atol=1e-6, rtol=0)
    # the ideal limit: t = 1 - v + O(β)
    torch.testing.assert_close(double, 1.0 - potential.double(), atol=2 * beta_dis, rtol=0)


def test_rc_spike_fire_matches_the_closed_form():
    beta = 0.155
    potential = torch.linspace(-1.0, 1.0 / beta + 1.0, 101, dtype=torch.float64)
    remaining = torch.clamp(1.0 - beta * potential, min=1e-300)
    closed = torch.clamp(1.0 - torch.log(remaining) / math.log1p(-beta), 0.0, 1.0)
    closed = torch.where(1.0 - beta * potential <= 0, torch.zeros_like(closed), closed)
    torch.testing.assert_close(fn.rc_spike_fire(potential, beta_dis=beta), closed, atol=1e-12, rtol=0)


@pytest.mark.parametrize("beta_dis", [0.0, 1e-300, 1e-8, 0.155, 0.6])
def test_firing_potential_reaches_one_at_the_firing_time(beta_dis):
    v_end = torch.tensor([0.0, 0.3, 0.8], dtype=torch.float64)
    time = fn.rc_spike_fire(v_end, beta_dis=beta_dis)
    reached = torch.stack([firing_potential(v, t, beta_dis=beta_dis) for v, t in zip(v_end, time, strict=True)])
    torch.testing.assert_close(reached, torch.ones(3, dtype=torch.float64), atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: fn.rc_spike_fire(torch.tensor([0.2, math.nan])), "NaN"),
        (lambda: fn.rc_spike_potential(torch.rand(2, 3).half(), torch.rand(2, 3).half(), **E2), "float32 and float64"),
        (lambda: fn.rc_spike_fire(torch.rand(3).bfloat16()), "float32 and float64"),
        (
            lambda: fn.rc_spike_potential(torch.rand(2, 3), torch.rand(2, 3), e_rev_pos=1e-300, e_rev_neg=-1e-300),
            "at least 0.01",
        ),
        (lambda: fn.rc_spike_potential(torch.rand(2, 3), torch.rand(2, 3), leak=1e300, **E2), "leak"),
        (lambda: fn.rc_spike_potential(torch.rand(2, 0), torch.rand(2, 0), **E2), "at least one input"),
        (lambda: fn.rc_spike_potential(torch.rand(2, 3), torch.rand(0, 3), **E2), "at least one input"),
        (lambda: fn.ttfs_spike_times(torch.rand(2, 0), torch.rand(2, 0), window=4.0, **E2), "at least one input"),
        (lambda: fn.rc_spike_potential_conv2d(torch.rand(1, 0, 4, 4), torch.rand(2, 0, 3, 3), **E2), "channel"),
        (lambda: fn.rc_spike_potential_conv2d(torch.rand(1, 1, 0, 4), torch.rand(2, 1, 3, 3), **E2), "1x1"),
        (lambda: fn.min_pool2d(torch.rand(1, 1, 4, 4), 0), "kernel_size"),
        (lambda: fn.min_pool2d(torch.rand(1, 1, 4, 4), 8), "kernel_size"),
        (lambda: build_network("0-10"), "zero dimension"),
        (lambda: build_network("64-10 10"), "spaces"),
    ],
)
def test_bad_input_is_a_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("method", ["exact", "dstd"])
def test_an_empty_batch_gives_an_empty_result(method):
    kw = {**E2, "method": method}
    assert fn.rc_spike_potential(torch.rand(0, 3), torch.rand(2, 3), **kw).shape == (0, 2)
    assert fn.ttfs_spike_times(torch.rand(0, 3), torch.rand(2, 3), window=4.0, **kw).shape == (0, 2)
    assert fn.rc_spike_potential_conv2d(torch.rand(0, 1, 4, 4), torch.rand(2, 1, 3, 3), **kw).shape == (0, 2, 4, 4)
