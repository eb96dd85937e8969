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


def test_end_potential_backward_matches_finite_differences_and_autograd():
    """The hand-written backward of the closed form: gradcheck (f, g, broadcast widths) and equality
    with autograd through the plain formula, including f = 0 and tiny f Δ (series branches)."""
    from imcpnn.physics.integrate import end_potential
    from imcpnn.physics.neuron import phi

    generator = torch.Generator().manual_seed(3)
    f = torch.rand(3, 6, 4, generator=generator, dtype=torch.float64) * 3.0
    f[0, :, 0] = 0.0
    f[1, :, 1] = 1e-4
    f[2, :, 2] = 0.03
    g = torch.randn(3, 6, 4, generator=generator, dtype=torch.float64)
    width = torch.rand(1, 6, 1, generator=generator, dtype=torch.float64) * 0.3 + 0.01
    inputs = tuple(x.clone().requires_grad_() for x in (f, g, width))
    assert torch.autograd.gradcheck(end_potential, inputs)

    def plain(f, g, width):
        x = f * width
        after = x.flip(1).cumsum(1).flip(1) - x  # Σ_{l>k} x_l
        return (g * width * phi(x) * torch.exp(-after)).sum(dim=1)

    weights = torch.randn(3, 4, generator=generator, dtype=torch.float64)
    ours = torch.autograd.grad((end_potential(*inputs) * weights).sum(), inputs)
    reference = torch.autograd.grad((plain(*inputs) * weights).sum(), inputs)
    # φ's series (x < 1e-3) differentiated by autograd is off by x^2/8 (< 1.3e-7): the reference's own error.
    for a, b in zip(ours, reference, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)


def test_phi_derivative_matches_autograd_in_float32_and_float64():
    from imcpnn.physics.neuron import phi, phi_derivative

    # Autograd through φ's closed-form branch (x >= 1e-3) is exact; below, φ'(x) = -1/2 + x/3 - x^2/8 + O(x^3).
    x = torch.logspace(-3, 2, 200, dtype=torch.float64).requires_grad_()
    (reference,) = torch.autograd.grad(phi(x).sum(), x)
    torch.testing.assert_close(phi_derivative(x.detach()), reference, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(phi_derivative(x.detach().float()), reference.float(), rtol=2e-5, atol=1e-6)
    small = torch.cat([torch.zeros(1, dtype=torch.float64), torch.logspace(-8, -3, 50, dtype=torch.float64)])
    torch.testing.assert_close(phi_derivative(small), -0.5 + small / 3 - small**2 / 8, rtol=0, atol=1e-10)
