"""DSTD's end potential of a whole layer as one autograd node: soft spikes, the one product, the end potential.

Spec ``MODEL.md`` section 4 with the closed form of section 1. Chained as separate autograd nodes
(:func:`~imcpnn.physics.dstd.soft_spike_variables`, :func:`~imcpnn.physics.dstd.dense_products` or
``conv_products``, :func:`~imcpnn.physics.end_potential.stacked_end_potential`), the product's node keeps
the soft spikes ``S [B, K, N_in]`` and the stacked weight ``[w; βw]`` alive through the whole backward,
next to the end potential's work buffers. This node saves only the layer's inputs (the spike times and
the weight, which exist anyway) and the products ``[B, K, 2 N_out]``; its backward first turns the
products into their gradient, frees them, and only then recomputes ``S`` and ``[w; βw]`` (three cheap
passes) for the product's backward. The peak of a training step falls by those two tensors, and the
values and gradients are those of the chained nodes (the tests compare them).

Under autocast (bf16) the chained nodes are used instead: autocast chooses each product's precision.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .dstd import (
    conv_operands,
    conv_products,
    dense_products,
    soft_spike_backward,
    soft_spike_grid_shape,
    soft_spike_values,
)
from .end_potential import end_potential_backward, end_potential_forward
from .neuron import reversal_slope, reversal_weight


def reversal_weight_backward(
    weight: torch.Tensor, grad: torch.Tensor, e_rev_pos: float, e_rev_neg: float
) -> torch.Tensor:
    """``∂L/∂w = β ∂L/∂(βw)`` through :func:`~imcpnn.physics.neuron.reversal_weight` (spec section 1), from
    ``grad = ∂L/∂(βw)``."""
    return reversal_slope(weight, e_rev_pos, e_rev_neg).mul_(grad)


def layer_products(
    spike_times: torch.Tensor, weight: torch.Tensor, start: torch.Tensor, width: torch.Tensor,
    e_rev_pos: float, e_rev_neg: float, soft_spikes_of=soft_spike_values,
) -> torch.Tensor:  # fmt: skip
    """DSTD's one product ``[w S, (βw) S]`` of a dense or convolutional layer, ``[B, K, 2 N_out, ...]``;
    ``soft_spikes_of``: :func:`~imcpnn.physics.dstd.soft_spike_values` (values, for this node) or
    :func:`~imcpnn.physics.dstd.soft_spike_variables` (differentiable, for the chained nodes)."""
    soft_spikes = soft_spikes_of(spike_times, start, width)
    beta_weight = reversal_weight(weight, e_rev_pos, e_rev_neg)
    return (dense_products if weight.dim() == 2 else conv_products)(soft_spikes, weight, beta_weight)


def _dense_product_backward(
    spike_times: torch.Tensor, weight: torch.Tensor, start: torch.Tensor, width: torch.Tensor,
    grad_g: torch.Tensor, grad_f: torch.Tensor, e_rev_pos: float, e_rev_neg: float, need_times: bool,
    need_weight: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:  # fmt: skip
    """The dense product's backward from ``∂L/∂g̃, ∂L/∂f̃ [B, K, N_out]``, in the order that keeps the fewest
    ``[B, K, ...]`` tensors alive: the input gradient first (two products, on ``w`` and on ``βw``: no
    stacked weight), then the soft spikes recomputed for the weight gradient."""
    grad_times = grad_weight = None
    slope = reversal_slope(weight, e_rev_pos, e_rev_neg)  # β, for βw and for its backward
    if need_times:
        grad_soft = torch.matmul(grad_g, weight)  # [B, K, N_in]
        grad_soft.view(-1, weight.shape[1]).addmm_(grad_f.flatten(0, 1), slope * weight)
        grad_times = soft_spike_backward(spike_times, start, width, grad_soft, overwrite=True)
        del grad_soft
    if need_weight:
        soft_spikes = soft_spike_values(spike_times, start, width).flatten(0, 1)
        grad_weight = torch.matmul(grad_f.flatten(0, 1).t(), soft_spikes).mul_(slope)  # ∂L/∂w through βw
        grad_weight.addmm_(grad_g.flatten(0, 1).t(), soft_spikes)
    return grad_times, grad_weight


class _DstdLayerPotential(torch.autograd.Function):
    """:func:`dstd_layer_potential`; see the module's docstring for what it saves."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, spike_times: torch.Tensor, weight: torch.Tensor, start: torch.Tensor, width: torch.Tensor,
        e_rev_pos: float, e_rev_neg: float, leak: float,
    ) -> torch.Tensor:  # fmt: skip
        products = layer_products(spike_times, weight, start, width, e_rev_pos, e_rev_neg)
        grid_width = width.view(soft_spike_grid_shape(spike_times))
        g, f = products.chunk(2, dim=2)
        potential = end_potential_forward(f, g, grid_width, leak)
        ctx.save_for_backward(spike_times, weight, start, width)
        # Kept outside save_for_backward so that the backward can free it half-way; an internal tensor no caller
        # can reach. A second backward (retain_graph) recomputes it from the saved (version-checked) inputs.
        ctx.products = products
        ctx.reversal = (e_rev_pos, e_rev_neg, leak)
        return potential

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):  # type: ignore[override]
        spike_times, weight, start, width = ctx.saved_tensors
        e_rev_pos, e_rev_neg, leak = ctx.reversal
        need_times, need_weight = ctx.needs_input_grad[:2]
        grid_shape = soft_spike_grid_shape(spike_times)
        products = ctx.products
        if products is None:
            products = layer_products(spike_times, weight, start, width, e_rev_pos, e_rev_neg)
        ctx.products = None
        grads = torch.empty_like(products)
        grad_g, grad_f = grads.chunk(2, dim=2)
        g, f = products.chunk(2, dim=2)
        end_potential_backward(f, g, width.view(grid_shape), leak, grad_output, grad_g, grad_f, want_width=False)
        del products, g, f
        if weight.dim() == 2:
            grad_times, grad_weight = _dense_product_backward(
                spike_times, weight, start, width, grad_g, grad_f, e_rev_pos, e_rev_neg, need_times, need_weight
            )
            return grad_times, grad_weight, None, None, None, None, None
        del grad_g, grad_f
        soft_spikes = soft_spike_values(spike_times, start, width)
        folded, stacked = conv_operands(soft_spikes, weight, reversal_weight(weight, e_rev_pos, e_rev_neg))
        grad_folded, grad_stacked, _ = torch.ops.aten.convolution_backward(
            grads.flatten(0, 1), folded, stacked, None, [1, 1], [weight.shape[-1] // 2] * 2, [1, 1], False,
            [0, 0], 1, [need_times, need_weight, False],
        )  # fmt: skip
        del grads, folded, stacked
        grad_times = grad_weight = None
        if need_times:
            grad_soft = grad_folded.view(soft_spikes.shape)
            grad_times = soft_spike_backward(spike_times, start, width, grad_soft, overwrite=True)
        if need_weight:
            grad_w, grad_beta_w = grad_stacked.chunk(2, dim=0)
            grad_weight = reversal_weight_backward(weight, grad_beta_w, e_rev_pos, e_rev_neg).add_(grad_w)
        return grad_times, grad_weight, None, None, None, None, None


def dstd_layer_potential(
    spike_times: torch.Tensor, weight: torch.Tensor, start: torch.Tensor, width: torch.Tensor,
    e_rev_pos: float, e_rev_neg: float, leak: float,
) -> torch.Tensor:  # fmt: skip
    """DSTD's potential at the end of the grid ``start, width [K]`` of a dense (``weight [N_out, N_in]``,
    ``spike_times [B, N_in]``) or stride-1 'same' convolutional layer (``[C_out, C_in, k, k]``,
    ``[B, C_in, H, W]``): ``[B, N_out]`` or ``[B, C_out, H, W]`` (spec sections 1, 4), as one autograd node.
    Not under autocast (see the module's docstring)."""
    return _DstdLayerPotential.apply(spike_times, weight, start, width, float(e_rev_pos), float(e_rev_neg), float(leak))
