"""Differentiable spike-time discretization (spec ``MODEL.md`` section 4).

Inputs are put on a fixed grid of ``M`` intervals (plus a short last one when the offset is
non-zero) through soft spike variables; the interval-averaged coefficients are then one dense
product (or one convolution) on the stacked weights ``[w; βw]`` with the grid axis folded into the
batch. Memory ``O(B M (N_in + N_out))``, no sort.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable


def grid_intervals(
    window: float, steps: int, offset: float, *, dtype: torch.dtype, device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Start times and widths ``[K]`` of the DSTD grid on ``[0, window]``.

    Grid points ``τ_m = m Δ - o`` for ``m = 0 .. M`` with ``Δ = window / M``, plus ``window`` itself
    when ``o > 0``: ``M`` intervals of width ``Δ`` and, for ``o > 0``, a last one of width ``o``.
    """
    width = window / steps
    index = torch.arange(steps, dtype=dtype, device=device)
    start = index * width - offset
    widths = torch.full((steps,), width, dtype=dtype, device=device)
    if offset > 0:
        start = torch.cat([start, torch.tensor([window - offset], dtype=dtype, device=device)])
        widths = torch.cat([widths, torch.tensor([offset], dtype=dtype, device=device)])
    return start, widths


def soft_spike_grid_shape(spike_times: torch.Tensor) -> tuple[int, ...]:
    """The shape ``(1, K, 1, ...)`` that puts a grid vector ``[K]`` on dim 1 of ``[B, K, ...]``."""
    return (1, -1) + (1,) * (spike_times.dim() - 1)


def soft_spike_values(spike_times: torch.Tensor, start: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    """``S_jk = clip((b_k - t_j) / (b_k - a_k), 0, 1)`` (spec section 4): the values, in one buffer."""
    shape = soft_spike_grid_shape(spike_times)
    end = (start + width).view(shape)
    return torch.sub(end, spike_times.unsqueeze(1)).div_(width.view(shape)).clamp_(0.0, 1.0)


def soft_spike_backward(
    spike_times: torch.Tensor, start: torch.Tensor, width: torch.Tensor, grad_soft: torch.Tensor, *,
    overwrite: bool = False,
) -> torch.Tensor:  # fmt: skip
    """``∂L/∂t_j = -Σ_k ∂L/∂S_jk / Δ_k`` over the intervals with ``a_k <= t_j <= b_k``, where the clip of
    :func:`soft_spike_values` passes the gradient (as autograd through ``clamp`` does). ``overwrite``: the
    caller's ``grad_soft`` buffer may be used as work space. (A ``torch.gather`` of the one interval that
    holds each input was slower on a CPU than this mask.)"""
    shape = soft_spike_grid_shape(spike_times)
    times = spike_times.unsqueeze(1)
    inside = (times >= start.view(shape)).logical_and_(times <= (start + width).view(shape))
    masked = grad_soft.mul_(inside) if overwrite else grad_soft * inside
    return masked.div_(width.view(shape)).sum(dim=1).neg_()


class _SoftSpikes(torch.autograd.Function):
    """:func:`soft_spike_variables` with a backward that saves only the spike times, not a ``[B, K, ...]``
    tensor (:func:`soft_spike_backward`)."""

    @staticmethod
    def forward(ctx, spike_times: torch.Tensor, start: torch.Tensor, width: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(spike_times, start, width)
        return soft_spike_values(spike_times, start, width)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_soft: torch.Tensor):  # type: ignore[override]
        spike_times, start, width = ctx.saved_tensors
        return soft_spike_backward(spike_times, start, width, grad_soft), None, None


def soft_spike_variables(spike_times: torch.Tensor, start: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    """``S_jk = clip((b_k - t_j) / (b_k - a_k), 0, 1)`` (spec section 4), grid axis at dim 1.

    ``spike_times``: ``[B, ...]``; ``start``, ``width``: ``[K]`` (the grid: no gradient). Returns
    ``[B, K, ...]``: the fraction of interval ``k`` during which input ``j`` is on. ``+inf`` (no spike)
    gives 0. Autograd keeps only ``spike_times`` (:class:`_SoftSpikes`).
    """
    return _SoftSpikes.apply(spike_times, start, width)


def dense_products(soft_spikes: torch.Tensor, weight: torch.Tensor, reversal_weight: torch.Tensor) -> torch.Tensor:
    """``[w S, (βw) S]``: DSTD's one product of a dense layer on the stacked weights ``[w; βw]``.

    ``soft_spikes``: ``[B, K, N_in]``; returns ``[B, K, 2 N_out]``, ``g̃`` first.
    """
    stacked = torch.cat([weight, reversal_weight], dim=0)  # [2 N_out, N_in]
    return torch.matmul(soft_spikes, stacked.t()).to(soft_spikes.dtype)  # autocast: bf16 -> S's dtype


def conv_products(soft_spikes: torch.Tensor, weight: torch.Tensor, reversal_weight: torch.Tensor) -> torch.Tensor:
    """``[w * S, (βw) * S]`` for a stride-1 'same' convolution: one conv2d on ``[w; βw]``, grid axis in
    the batch. ``soft_spikes``: ``[B, K, C_in, H, W]``; ``weight``: ``[C_out, C_in, k, k]`` with odd
    ``k``. Zero padding of ``S`` means "no spike" outside the image. Returns ``[B, K, 2 C_out, H, W]``."""
    batch, steps = soft_spikes.shape[:2]
    folded, stacked = conv_operands(soft_spikes, weight, reversal_weight)
    products = F.conv2d(folded, stacked, padding=weight.shape[-1] // 2).to(folded.dtype)  # autocast: bf16 -> S's
    return products.view(batch, steps, *products.shape[1:])


def conv_operands(
    soft_spikes: torch.Tensor, weight: torch.Tensor, reversal_weight: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The convolution's input ``[B K, C_in, H, W]`` (grid folded into the batch) and stacked weight
    ``[w; βw]``, both channels_last (NHWC): oneDNN's and cuDNN's fast layout. Measured on this project's 2-core
    CPU, one stacked conv's forward + backward at K = 5 (scripts/bench_conv_layer.py): 1.6x faster at 64
    channels, 1.8x at 128 on 16x16, 1.2x at 256 on 8x8 (docs/benchmarks.md). The products then come out
    NHWC, so do the layer's outputs, and the next layer's soft spikes are NHWC without a copy."""
    stacked = torch.cat([weight, reversal_weight], dim=0).contiguous(memory_format=torch.channels_last)
    folded = soft_spikes.flatten(0, 1).contiguous(memory_format=torch.channels_last)
    return folded, stacked


def dense_coefficients(
    soft_spikes: torch.Tensor, weight: torch.Tensor, reversal_weight: torch.Tensor, leak: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``f̃ = α + (βw) S``, ``g̃ = w S`` for a dense layer (:func:`dense_products`), each ``[B, K, N_out]``."""
    g, f = dense_products(soft_spikes, weight, reversal_weight).chunk(2, dim=-1)
    return (f + leak if leak else f), g


def conv_coefficients(
    soft_spikes: torch.Tensor, weight: torch.Tensor, reversal_weight: torch.Tensor, leak: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``f̃, g̃`` of a stride-1 'same' convolution (:func:`conv_products`), each ``[B, K, C_out, H, W]``."""
    g, f = conv_products(soft_spikes, weight, reversal_weight).chunk(2, dim=2)
    return (f + leak if leak else f), g
