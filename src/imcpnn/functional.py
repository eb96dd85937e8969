"""Public functional API: pure, batched, differentiable tensor functions (spec ``MODEL.md`` sections 1-4).

Shapes: dense layers take ``spike_times`` ``[B, N_in]`` and ``weight`` ``[N_out, N_in]``; convolutions
take ``[B, C_in, H, W]`` and ``[C_out, C_in, k, k]`` (odd ``k``, stride 1, 'same' padding). Times
are normalised (one circuit phase = 1) and ``+inf`` means "no spike". ``method="exact"`` is the
event-driven solution; ``method="dstd"`` the discretised one with ``steps`` intervals and grid
``offset``. Both work in float32 and float64, on CPU and CUDA, and are differentiable with respect
to spike times and weights. Every bad argument raises ``ValueError`` naming it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .physics import validation as check
from .physics.dstd import conv_coefficients, dense_coefficients, grid_intervals, soft_spike_variables
from .physics.exact import sorted_intervals
from .physics.integrate import end_potential, first_crossing, potential_at
from .physics.neuron import rc_spike_fire, reversal_weight

__all__ = [
    "min_pool2d",
    "rc_spike_fire",
    "rc_spike_potential",
    "rc_spike_potential_conv2d",
    "rc_spike_potential_trace",
    "ttfs_spike_times",
    "ttfs_spike_times_conv2d",
]

RC_SPIKE_WINDOW = 1.0  # the accumulation phase, in units of the circuit's phase length


def _check_settings(
    e_rev_pos: float, e_rev_neg: float, leak: float, method: str, steps: int, offset: float, window: float
) -> None:
    check.check_reversal_potentials(e_rev_pos, e_rev_neg)
    check.check_nonnegative("leak", leak, "the leak rate α of the membrane, 1/time")
    check.check_method(method)
    check.check_steps(steps)
    check.check_offset(offset, window, steps)


def _check_conv_shapes(spike_times: torch.Tensor, weight: torch.Tensor) -> None:
    if not isinstance(weight, torch.Tensor) or weight.dim() != 4:
        raise ValueError(f"weight must have shape [c_out, c_in, k, k]; got {getattr(weight, 'shape', weight)}")
    if spike_times.dim() != 4:
        raise ValueError(f"spike_times must have shape [batch, c_in, height, width]; got {tuple(spike_times.shape)}")
    kernel = weight.shape[-1]
    if weight.shape[-2] != kernel or kernel % 2 == 0:
        raise ValueError(f"the kernel must be square with an odd size (3x3 here); got {tuple(weight.shape[-2:])}")
    if weight.shape[1] != spike_times.shape[1]:
        raise ValueError(f"weight expects c_in={weight.shape[1]} channels but spike_times has {spike_times.shape[1]}")
    check.check_same_kind(spike_times, weight)


def _dense_intervals(
    spike_times: torch.Tensor,
    weight: torch.Tensor,
    e_rev_pos: float,
    e_rev_neg: float,
    leak: float,
    method: str,
    steps: int,
    offset: float,
    window: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``f, g [B, K, N_out]`` and ``start, width [B or 1, K, 1]`` of a dense layer, either method."""
    beta_weight = reversal_weight(weight, e_rev_pos, e_rev_neg)
    if method == "exact":
        return sorted_intervals(spike_times, weight, beta_weight, leak, window)
    start, width = grid_intervals(window, steps, offset, dtype=spike_times.dtype, device=spike_times.device)
    f, g = dense_coefficients(soft_spike_variables(spike_times, start, width), weight, beta_weight, leak)
    return f, g, start.view(1, -1, 1), width.view(1, -1, 1)


def _conv_intervals(
    spike_times: torch.Tensor,
    weight: torch.Tensor,
    e_rev_pos: float,
    e_rev_neg: float,
    leak: float,
    steps: int,
    offset: float,
    window: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """DSTD ``f, g [B, K, C_out, H, W]`` and ``start, width [1, K, 1, 1, 1]`` of a convolution."""
    beta_weight = reversal_weight(weight, e_rev_pos, e_rev_neg)
    start, width = grid_intervals(window, steps, offset, dtype=spike_times.dtype, device=spike_times.device)
    f, g = conv_coefficients(soft_spike_variables(spike_times, start, width), weight, beta_weight, leak)
    return f, g, start.view(1, -1, 1, 1, 1), width.view(1, -1, 1, 1, 1)


def _unfold_patches(spike_times: torch.Tensor, kernel: int) -> torch.Tensor:
    """``[B, C, H, W]`` -> ``[B H W, C k k]`` patches; positions outside the image never spike (``+inf``)."""
    pad = kernel // 2
    padded = F.pad(spike_times, (pad, pad, pad, pad), value=math.inf)
    patches = F.unfold(padded, kernel)  # [B, C k k, H W]
    return patches.transpose(1, 2).reshape(-1, patches.shape[1])


def _fold_outputs(outputs: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``[B H W, C_out]`` -> ``[B, C_out, H, W]``."""
    batch, _, height, width = like.shape
    return outputs.view(batch, height * width, -1).transpose(1, 2).reshape(batch, -1, height, width)


def rc_spike_potential(
    spike_times: torch.Tensor,
    weight: torch.Tensor,
    *,
    e_rev_pos: float,
    e_rev_neg: float,
    leak: float = 0.0,
    method: str = "exact",
    steps: int = 10,
    offset: float = 0.0,
) -> torch.Tensor:
    """Membrane potential ``v(1)`` at the end of the accumulation window ``[0, 1]`` (spec sections 2, 4).

    ``spike_times``: ``[B, N_in]`` in ``[0, 1]`` or ``+inf``; ``weight``: ``[N_out, N_in]``;
    ``e_rev_pos > 0 > e_rev_neg`` (``±inf``: ideal); ``leak``: α >= 0. Returns ``[B, N_out]``.
    """
    check.check_spike_times(spike_times, RC_SPIKE_WINDOW)
    check.check_dense_shapes(spike_times, weight)
    _check_settings(e_rev_pos, e_rev_neg, leak, method, steps, offset, RC_SPIKE_WINDOW)
    f, g, _, width = _dense_intervals(
        spike_times, weight, e_rev_pos, e_rev_neg, leak, method, steps, offset, RC_SPIKE_WINDOW
    )
    return end_potential(f, g, width)


def rc_spike_potential_conv2d(
    spike_times: torch.Tensor,
    weight: torch.Tensor,
    *,
    e_rev_pos: float,
    e_rev_neg: float,
    leak: float = 0.0,
    method: str = "exact",
    steps: int = 10,
    offset: float = 0.0,
) -> torch.Tensor:
    """:func:`rc_spike_potential` for a stride-1 'same' convolution: ``[B, C_out, H, W]``.

    DSTD uses one convolution per layer with the grid folded into the batch; the exact method
    unfolds the input into patches (``+inf`` outside the image) and solves each as a dense neuron.
    """
    check.check_spike_times(spike_times, RC_SPIKE_WINDOW)
    _check_conv_shapes(spike_times, weight)
    _check_settings(e_rev_pos, e_rev_neg, leak, method, steps, offset, RC_SPIKE_WINDOW)
    if method == "exact":
        patches = _unfold_patches(spike_times, weight.shape[-1])
        f, g, _, width = _dense_intervals(
            patches, weight.flatten(1), e_rev_pos, e_rev_neg, leak, method, steps, offset, RC_SPIKE_WINDOW
        )
        return _fold_outputs(end_potential(f, g, width), spike_times)
    f, g, _, width = _conv_intervals(spike_times, weight, e_rev_pos, e_rev_neg, leak, steps, offset, RC_SPIKE_WINDOW)
    return end_potential(f, g, width)


def rc_spike_potential_trace(
    spike_times: torch.Tensor,
    weight: torch.Tensor,
    times: torch.Tensor,
    *,
    e_rev_pos: float,
    e_rev_neg: float,
    leak: float = 0.0,
    method: str = "exact",
    steps: int = 10,
    offset: float = 0.0,
) -> torch.Tensor:
    """Membrane potential ``v(t)`` during the accumulation window at the query ``times`` ``[T]``.

    Returns ``[B, N_out, T]``. With ``method="dstd"`` this is the DSTD model's own trajectory
    (piecewise exponential with the interval-averaged coefficients), as in the paper's Fig. 2c-d.
    """
    check.check_spike_times(spike_times, RC_SPIKE_WINDOW)
    check.check_dense_shapes(spike_times, weight)
    check.check_spike_times(times, RC_SPIKE_WINDOW, name="times")
    _check_settings(e_rev_pos, e_rev_neg, leak, method, steps, offset, RC_SPIKE_WINDOW)
    f, g, start, width = _dense_intervals(
        spike_times, weight, e_rev_pos, e_rev_neg, leak, method, steps, offset, RC_SPIKE_WINDOW
    )
    return potential_at(f, g, start, width, times.reshape(1, -1))


def _check_ttfs(window: float, threshold: float) -> float:
    window = check.check_window(window)
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and threshold > 0):
        raise ValueError(f"threshold must be a finite number > 0 (the firing threshold Vth); got {threshold!r}")
    return window


def ttfs_spike_times(
    spike_times: torch.Tensor,
    weight: torch.Tensor,
    *,
    e_rev_pos: float,
    e_rev_neg: float,
    window: float,
    leak: float = 0.0,
    threshold: float = 1.0,
    method: str = "exact",
    steps: int = 10,
    offset: float = 0.0,
) -> torch.Tensor:
    """First threshold crossings in ``[0, window]`` of TTFS neurons (spec sections 3, 4): ``[B, N_out]``.

    ``+inf`` where a neuron does not fire. Inputs: ``[B, N_in]`` in ``[0, window]`` or ``+inf``.
    """
    window = _check_ttfs(window, threshold)
    check.check_spike_times(spike_times, window)
    check.check_dense_shapes(spike_times, weight)
    _check_settings(e_rev_pos, e_rev_neg, leak, method, steps, offset, window)
    f, g, start, width = _dense_intervals(
        spike_times, weight, e_rev_pos, e_rev_neg, leak, method, steps, offset, window
    )
    return torch.clamp(first_crossing(f, g, start, width, threshold), min=0.0)


def ttfs_spike_times_conv2d(
    spike_times: torch.Tensor,
    weight: torch.Tensor,
    *,
    e_rev_pos: float,
    e_rev_neg: float,
    window: float,
    leak: float = 0.0,
    threshold: float = 1.0,
    method: str = "exact",
    steps: int = 10,
    offset: float = 0.0,
) -> torch.Tensor:
    """:func:`ttfs_spike_times` for a stride-1 'same' convolution: ``[B, C_out, H, W]``."""
    window = _check_ttfs(window, threshold)
    check.check_spike_times(spike_times, window)
    _check_conv_shapes(spike_times, weight)
    _check_settings(e_rev_pos, e_rev_neg, leak, method, steps, offset, window)
    if method == "exact":
        patches = _unfold_patches(spike_times, weight.shape[-1])
        f, g, start, width = _dense_intervals(
            patches, weight.flatten(1), e_rev_pos, e_rev_neg, leak, method, steps, offset, window
        )
        return _fold_outputs(torch.clamp(first_crossing(f, g, start, width, threshold), min=0.0), spike_times)
    f, g, start, width = _conv_intervals(spike_times, weight, e_rev_pos, e_rev_neg, leak, steps, offset, window)
    return torch.clamp(first_crossing(f, g, start, width, threshold), min=0.0)


def min_pool2d(spike_times: torch.Tensor, kernel_size: int = 2) -> torch.Tensor:
    """Pooling as the earliest spike in each ``k x k`` block, stride ``k`` (spec section 5).

    The same as max-pooling ``x = 1 - t``; ``+inf`` (no spike) loses to any spike.
    """
    if spike_times.dim() != 4:
        raise ValueError(
            f"spike_times must have shape [batch, channels, height, width]; got {tuple(spike_times.shape)}"
        )
    return -F.max_pool2d(-spike_times, kernel_size)
