"""The fused DSTD layer node and its parts against plain autograd through the same formulas (float64)."""

import math

import pytest
import torch

from imcpnn.physics.dstd import conv_coefficients, dense_coefficients, grid_intervals, soft_spike_variables
from imcpnn.physics.dstd_layer import dstd_layer_potential, reversal_weight_backward
from imcpnn.physics.end_potential import stacked_end_potential
from imcpnn.physics.neuron import phi, reversal_weight


def _plain_soft_spikes(times, start, width):
    shape = (1, -1) + (1,) * (times.dim() - 1)
    return torch.clamp(((start + width).view(shape) - times.unsqueeze(1)) / width.view(shape), 0.0, 1.0)


def _plain_end_potential(f, g, width):
    x = f * width
    after = x.flip(1).cumsum(1).flip(1) - x  # Σ_{l>k} x_l
    return (g * width * phi(x) * torch.exp(-after)).sum(dim=1)


def _plain_layer(times, weight, start, width, e_pos, e_neg, leak):
    """The layer with autograd through every elementary operation (the reference)."""
    soft = _plain_soft_spikes(times, start, width)
    beta_weight = reversal_weight(weight, e_pos, e_neg)
    coefficients = dense_coefficients if weight.dim() == 2 else conv_coefficients
    f, g = coefficients(soft, weight, beta_weight, leak)
    grid_width = width.view((1, -1) + (1,) * (times.dim() - 1))
    return _plain_end_potential(f, g, grid_width)


def _layer_inputs(kind, seed=0):
    gen = torch.Generator().manual_seed(seed)
    if kind == "dense":
        times = torch.rand(5, 9, generator=gen, dtype=torch.float64)
        weight = torch.randn(6, 9, generator=gen, dtype=torch.float64) * 0.6
    else:
        times = torch.rand(2, 3, 5, 4, generator=gen, dtype=torch.float64)
        weight = torch.randn(4, 3, 3, 3, generator=gen, dtype=torch.float64) * 0.4
    times.view(-1)[::7] = math.inf  # inputs that never spike
    weight.view(-1)[3] = 0.0  # a weight on the kink of βw
    return times, weight


@pytest.mark.parametrize("kind", ["dense", "conv"])
@pytest.mark.parametrize(
    ("e_pos", "e_neg", "leak", "offset"), [(2.0, -1.5, 0.0, 0.07), (math.inf, -math.inf, 0.3, 0.0)]
)
def test_fused_layer_matches_autograd_through_the_formulas(kind, e_pos, e_neg, leak, offset):
    times, weight = _layer_inputs(kind)
    start, width = grid_intervals(1.0, 6, offset, dtype=torch.float64, device="cpu")
    leaves = [times.clone().requires_grad_(), weight.clone().requires_grad_()]
    reference_leaves = [x.clone().requires_grad_() for x in (times, weight)]
    ours = dstd_layer_potential(*leaves, start, width, e_pos, e_neg, leak)
    reference = _plain_layer(*reference_leaves, start, width, e_pos, e_neg, leak)
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)
    weights = torch.randn(ours.shape, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    grads = torch.autograd.grad((ours * weights).sum(), leaves)
    reference_grads = torch.autograd.grad((reference * weights).sum(), reference_leaves)
    for a, b in zip(grads, reference_grads, strict=True):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_fused_layer_gradcheck_and_a_second_backward(kind):
    times, weight = _layer_inputs(kind, seed=4)
    times = times.clamp(max=0.95).requires_grad_()  # gradcheck steps every input: no +inf here
    weight.view(-1)[3] = 0.2  # and no weight on βw's kink, where finite differences take the mean slope
    weight = weight.requires_grad_()
    start, width = grid_intervals(1.0, 5, 0.03, dtype=torch.float64, device="cpu")

    def layer(t, w):
        return dstd_layer_potential(t, w, start, width, 2.0, -3.0, 0.1)

    assert torch.autograd.gradcheck(layer, (times, weight), eps=1e-7, atol=1e-6)
    out = layer(times, weight).sum()
    first = torch.autograd.grad(out, (times, weight), retain_graph=True)
    second = torch.autograd.grad(out, (times, weight))  # the products were freed: recomputed
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_fused_layer_skips_the_input_gradient_of_a_first_layer():
    times, weight = _layer_inputs("conv", seed=2)
    weight = weight.requires_grad_()
    start, width = grid_intervals(1.0, 4, 0.0, dtype=torch.float64, device="cpu")
    (grad,) = torch.autograd.grad(dstd_layer_potential(times, weight, start, width, 2.0, -2.0, 0.0).sum(), weight)
    (reference,) = torch.autograd.grad(_plain_layer(times, weight, start, width, 2.0, -2.0, 0.0).sum(), weight)
    torch.testing.assert_close(grad, reference, rtol=1e-9, atol=1e-11)


def test_soft_spike_node_and_stacked_end_potential_match_autograd():
    gen = torch.Generator().manual_seed(1)
    times = torch.rand(4, 7, generator=gen, dtype=torch.float64)
    start, width = grid_intervals(1.0, 5, 0.11, dtype=torch.float64, device="cpu")
    leaf, reference_leaf = times.clone().requires_grad_(), times.clone().requires_grad_()
    soft, reference = soft_spike_variables(leaf, start, width), _plain_soft_spikes(reference_leaf, start, width)
    torch.testing.assert_close(soft, reference, rtol=0, atol=1e-15)
    upstream = torch.randn(soft.shape, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(
        torch.autograd.grad((soft * upstream).sum(), leaf)[0],
        torch.autograd.grad((reference * upstream).sum(), reference_leaf)[0],
    )
    products = torch.rand(3, 6, 8, generator=gen, dtype=torch.float64)
    products[0, :, 4] = 0.0  # f = 0: φ's limit
    grid_width = torch.rand(1, 6, 1, generator=gen, dtype=torch.float64) * 0.3 + 0.01
    leaf = products.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda p: stacked_end_potential(p, grid_width, 0.2, dim=2), (leaf,))
    g, f = leaf.chunk(2, dim=2)
    torch.testing.assert_close(
        stacked_end_potential(leaf, grid_width, 0.2, dim=2), _plain_end_potential(f + 0.2, g, grid_width)
    )


def test_reversal_weight_backward_is_autograd_through_reversal_weight():
    weight = torch.tensor([-1.0, -0.2, 0.0, 0.3, 2.0], dtype=torch.float64, requires_grad=True)
    upstream = torch.tensor([0.5, -1.0, 2.0, 1.5, -0.7], dtype=torch.float64)
    (reference,) = torch.autograd.grad((reversal_weight(weight, 2.0, -1.5) * upstream).sum(), weight)
    torch.testing.assert_close(reversal_weight_backward(weight.detach(), upstream, 2.0, -1.5), reference)


def test_a_silent_interval_makes_no_subnormal_numbers():
    """x = 0 (no input on yet) is offset to 2^-100, not to float32's smallest normal number, whose products
    with the series' coefficients would be subnormal (about 100 times slower arithmetic on x86)."""
    from imcpnn.physics.end_potential import _scaled_exponent

    x = _scaled_exponent(torch.zeros(4), torch.tensor(0.25), 0.0, None)
    assert bool((x * (1.0 / 144.0) >= torch.finfo(torch.float32).tiny).all())
    assert torch.equal(-torch.expm1(-x) / x, torch.ones(4))  # φ(0) = 1 exactly
