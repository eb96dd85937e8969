"""Gradients against finite differences (torch.autograd.gradcheck, float64), both methods and families."""

import math

import pytest
import torch

from imcpnn.functional import (
    rc_spike_fire,
    rc_spike_potential,
    rc_spike_potential_conv2d,
    ttfs_spike_times,
)


def _rc_inputs():
    gen = torch.Generator().manual_seed(5)
    times = (0.05 + 0.9 * torch.rand(3, 7, generator=gen, dtype=torch.float64)).requires_grad_()
    weight = torch.randn(4, 7, generator=gen, dtype=torch.float64).requires_grad_()
    return times, weight


@pytest.mark.parametrize("method", ["exact", "dstd"])
@pytest.mark.parametrize(("e_pos", "e_neg"), [(2.0, -1.5), (math.inf, -math.inf)])
def test_rc_spike_potential_gradcheck(method, e_pos, e_neg):
    times, weight = _rc_inputs()

    def potential(t, w):
        return rc_spike_potential(t, w, e_rev_pos=e_pos, e_rev_neg=e_neg, leak=0.2, method=method, steps=5, offset=0.03)

    assert torch.autograd.gradcheck(potential, (times, weight), eps=1e-7, atol=1e-6)


def test_rc_spike_fire_gradcheck():
    potential = torch.tensor([-0.3, 0.1, 0.45, 0.8, 1.2], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: rc_spike_fire(v, beta_dis=0.15), (potential,))
    assert torch.autograd.gradcheck(lambda v: rc_spike_fire(v), (potential,))


@pytest.mark.parametrize("method", ["exact", "dstd"])
def test_rc_spike_conv_gradcheck(method):
    gen = torch.Generator().manual_seed(2)
    times = (0.05 + 0.9 * torch.rand(1, 2, 4, 3, generator=gen, dtype=torch.float64)).requires_grad_()
    weight = torch.randn(2, 2, 3, 3, generator=gen, dtype=torch.float64).requires_grad_()

    def potential(t, w):
        return rc_spike_potential_conv2d(t, w, e_rev_pos=2.0, e_rev_neg=-2.0, method=method, steps=4, offset=0.1)

    assert torch.autograd.gradcheck(potential, (times, weight), eps=1e-7, atol=1e-6)


@pytest.mark.parametrize("method", ["exact", "dstd"])
@pytest.mark.parametrize("e_rev", [2.5, math.inf])
def test_ttfs_spike_times_gradcheck(method, e_rev):
    gen = torch.Generator().manual_seed(11)
    times = (0.1 + 1.5 * torch.rand(2, 8, generator=gen, dtype=torch.float64)).requires_grad_()
    weight = (0.3 + 0.4 * torch.rand(3, 8, generator=gen, dtype=torch.float64)).requires_grad_()
    kw = {"e_rev_pos": e_rev, "e_rev_neg": -e_rev, "window": 3.0, "leak": 0.1, "method": method, "steps": 7}
    out = ttfs_spike_times(times, weight, **kw)
    assert torch.isfinite(out).all(), "every neuron must fire for a finite-difference check"
    assert torch.autograd.gradcheck(lambda t, w: ttfs_spike_times(t, w, **kw), (times, weight), eps=1e-7, atol=1e-6)
