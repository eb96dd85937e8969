"""Differentiable spike-time discretization (spec ``MODEL.md`` section 4).

Inputs are put on a fixed grid of ``M`` intervals (plus a short last one when the offset is
non-zero) through soft spike variables; the interval-averaged coefficients are then one dense
product (or one convolution) on the stacked weights ``[w; βw]`` with the grid axis folded into the
batch. Memory ``O(B M (N_in + N_out))``, no sort.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


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


def soft_spike_variables(spike_times: torch.Tensor, start: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    """``S_jk = clip((b_k - t_j) / (b_k - a_k), 0, 1)`` (spec section 4), grid axis at dim 1.

    ``spike_times``: ``[B, ...]``; ``start``, ``width``: ``[K]``. Returns ``[B, K, ...]``: the
    fraction of interval ``k`` during which input ``j`` is on. ``+inf`` (no spike) gives 0.
    """
    shape = (1, -1) + (1,) * (spike_times.dim() - 1)
    end = (start + width).view(shape)
    return torch.clamp((end - spike_times.unsqueeze(1)) / width.view(shape), 0.0, 1.0)


def dense_coefficients(
    soft_spikes: torch.Tensor, weight: torch.Tensor, reversal_weight: torch.Tensor, leak: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``f̃ = α + (βw) S``, ``g̃ = w S`` for a dense layer: one product on ``[w; βw]``.

    ``soft_spikes``: ``[B, K, N_in]``; returns ``f̃, g̃`` of shape ``[B, K, N_out]``.
    """
    stacked = torch.cat([weight, reversal_weight], dim=0)  # [2 N_out, N_in]
    coefficients = torch.matmul(soft_spikes, stacked.t()).to(soft_spikes.dtype)  # autocast: bf16 -> S's dtype
    g, f = coefficients.split(weight.shape[0], dim=-1)
    return (f + leak if leak else f), g


def conv_coefficients(
    soft_spikes: torch.Tensor, weight: torch.Tensor, reversal_weight: torch.Tensor, leak: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``f̃, g̃`` for a stride-1 'same' convolution: one conv2d on ``[w; βw]``, grid axis in the batch.

    ``soft_spikes``: ``[B, K, C_in, H, W]``; ``weight``: ``[C_out, C_in, k, k]`` with odd ``k``.
    Zero padding of ``S`` means "no spike" outside the image. Returns ``[B, K, C_out, H, W]``.
    """
    batch, steps = soft_spikes.shape[:2]
    stacked = torch.cat([weight, reversal_weight], dim=0)
    folded = soft_spikes.reshape(batch * steps, *soft_spikes.shape[2:])
    coefficients = F.conv2d(folded, stacked, padding=weight.shape[-1] // 2).to(folded.dtype)  # autocast: bf16 -> S's
    coefficients = coefficients.view(batch, steps, *coefficients.shape[1:])
    g, f = coefficients.split(weight.shape[0], dim=2)
    return (f + leak if leak else f), g
