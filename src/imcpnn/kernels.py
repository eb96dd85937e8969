"""Unchecked layer kernels: spike times of dense and convolutional layers from typed parameters.

The path the layers and the trainer call on every step. Nothing here validates (no host-device
sync): :mod:`imcpnn.functional` checks its arguments once and calls these; layers get checked
:class:`~imcpnn.params.NeuronParams` and :class:`~imcpnn.params.SolverSettings` from their config.
Formulas are those of spec ``MODEL.md`` sections 2-4, each in :mod:`imcpnn.physics`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .params import NeuronParams, SolverSettings
from .physics.dstd import (
    conv_coefficients,
    dense_coefficients,
    grid_intervals,
    soft_spike_grid_shape,
    soft_spike_variables,
)
from .physics.dstd_layer import dstd_layer_potential, layer_products
from .physics.end_potential import stacked_end_potential
from .physics.exact import sorted_intervals
from .physics.integrate import end_potential, first_crossing, potential_at
from .physics.neuron import rc_spike_fire, reversal_weight

Intervals = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]

RC_SPIKE_WINDOW = 1.0  # the accumulation phase, in units of the circuit's phase length


def dense_intervals(
    spike_times: torch.Tensor, weight: torch.Tensor, params: NeuronParams, solver: SolverSettings, window: float
) -> Intervals:
    """``f, g [B, K, N_out]`` and ``start, width [B or 1, K, 1]`` of a dense layer, either method."""
    beta_weight = reversal_weight(weight, params.e_rev_pos, params.e_rev_neg)
    if solver.method == "exact":
        return sorted_intervals(spike_times, weight, beta_weight, params.leak, window)
    start, width = grid_intervals(
        window, solver.steps, solver.offset, dtype=spike_times.dtype, device=spike_times.device
    )
    f, g = dense_coefficients(soft_spike_variables(spike_times, start, width), weight, beta_weight, params.leak)
    return f, g, start.view(1, -1, 1), width.view(1, -1, 1)


def conv_intervals(
    spike_times: torch.Tensor, weight: torch.Tensor, params: NeuronParams, solver: SolverSettings, window: float
) -> Intervals:
    """DSTD ``f, g [B, K, C_out, H, W]`` and ``start, width [1, K, 1, 1, 1]`` of a convolution."""
    beta_weight = reversal_weight(weight, params.e_rev_pos, params.e_rev_neg)
    start, width = grid_intervals(
        window, solver.steps, solver.offset, dtype=spike_times.dtype, device=spike_times.device
    )
    f, g = conv_coefficients(soft_spike_variables(spike_times, start, width), weight, beta_weight, params.leak)
    return f, g, start.view(1, -1, 1, 1, 1), width.view(1, -1, 1, 1, 1)


def dstd_end_potential(
    spike_times: torch.Tensor, weight: torch.Tensor, params: NeuronParams, solver: SolverSettings, window: float
) -> torch.Tensor:
    """DSTD's potential at the end of ``[0, window]`` of a dense (``weight [N_out, N_in]``) or stride-1 'same'
    convolutional (``[C_out, C_in, k, k]``) layer: ``[B, N_out]`` or ``[B, C_out, H, W]`` (spec section 4).

    One product of the soft spikes with ``[w; βw]``, then the closed-form end potential of the stacked
    result, as one autograd node (:func:`~imcpnn.physics.dstd_layer.dstd_layer_potential`: the fast,
    lean path of training). Under autocast, the same as separate nodes, each product in autocast's
    precision.
    """
    start, width = grid_intervals(
        window, solver.steps, solver.offset, dtype=spike_times.dtype, device=spike_times.device
    )
    device_type = spike_times.device.type
    if device_type == "meta" or not torch.is_autocast_enabled(device_type):  # autocast knows no meta device
        return dstd_layer_potential(spike_times, weight, start, width, params.e_rev_pos, params.e_rev_neg, params.leak)
    products = layer_products(
        spike_times, weight, start, width, params.e_rev_pos, params.e_rev_neg, soft_spikes_of=soft_spike_variables
    )
    return stacked_end_potential(products, width.view(soft_spike_grid_shape(spike_times)), params.leak, dim=2)


def unfold_patches(spike_times: torch.Tensor, kernel: int) -> torch.Tensor:
    """``[B, C, H, W]`` -> ``[B H W, C k k]`` patches; positions outside the image never spike (``+inf``)."""
    pad = kernel // 2
    padded = F.pad(spike_times, (pad, pad, pad, pad), value=math.inf)
    patches = F.unfold(padded, kernel)  # [B, C k k, H W]
    return patches.transpose(1, 2).reshape(-1, patches.shape[1])


def fold_outputs(outputs: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``[B H W, C_out]`` -> ``[B, C_out, H, W]``."""
    batch, _, height, width = like.shape
    channels = outputs.shape[-1]
    return outputs.view(batch, height * width, channels).transpose(1, 2).reshape(batch, channels, height, width)


def _conv_through_patches(kernel, spike_times: torch.Tensor, weight: torch.Tensor, *args) -> torch.Tensor:
    """A dense kernel applied to every patch of a stride-1 'same' convolution (the exact method)."""
    patches = unfold_patches(spike_times, weight.shape[-1])
    return fold_outputs(kernel(patches, weight.flatten(1), *args), spike_times)


def rc_spike_potential(
    spike_times: torch.Tensor, weight: torch.Tensor, params: NeuronParams, solver: SolverSettings
) -> torch.Tensor:
    """End-of-accumulation potential ``v(1)`` of a dense RC-Spike layer (spec sections 2, 4): ``[B, N_out]``."""
    if solver.method == "dstd":
        return dstd_end_potential(spike_times, weight, params, solver, RC_SPIKE_WINDOW)
    f, g, _, width = dense_intervals(spike_times, weight, params, solver, RC_SPIKE_WINDOW)
    return end_potential(f, g, width)


def rc_spike_potential_conv2d(
    spike_times: torch.Tensor, weight: torch.Tensor, params: NeuronParams, solver: SolverSettings
) -> torch.Tensor:
    """:func:`rc_spike_potential` of a stride-1 'same' convolution: ``[B, C_out, H, W]``.

    DSTD: one convolution with the grid folded into the batch; exact: every patch as a dense neuron.
    """
    if solver.method == "exact":
        return _conv_through_patches(rc_spike_potential, spike_times, weight, params, solver)
    return dstd_end_potential(spike_times, weight, params, solver, RC_SPIKE_WINDOW)


def rc_spike_potential_trace(
    spike_times: torch.Tensor, weight: torch.Tensor, times: torch.Tensor, params: NeuronParams, solver: SolverSettings
) -> torch.Tensor:
    """``v(t)`` of a dense RC-Spike layer during accumulation at the query ``times [T]``: ``[B, N_out, T]``."""
    f, g, start, width = dense_intervals(spike_times, weight, params, solver, RC_SPIKE_WINDOW)
    return potential_at(f, g, start, width, times.reshape(1, -1))


def rc_spike_times(
    spike_times: torch.Tensor, weight: torch.Tensor, params: NeuronParams, solver: SolverSettings
) -> torch.Tensor:
    """Output spike times of a dense RC-Spike layer: accumulation, then the firing phase (spec section 2)."""
    return rc_spike_fire(rc_spike_potential(spike_times, weight, params, solver), beta_dis=params.beta_dis)


def rc_spike_times_conv2d(
    spike_times: torch.Tensor, weight: torch.Tensor, params: NeuronParams, solver: SolverSettings
) -> torch.Tensor:
    """:func:`rc_spike_times` of a stride-1 'same' convolution: ``[B, C_out, H, W]``."""
    return rc_spike_fire(rc_spike_potential_conv2d(spike_times, weight, params, solver), beta_dis=params.beta_dis)


def ttfs_potential(
    spike_times: torch.Tensor, weight: torch.Tensor, params: NeuronParams, solver: SolverSettings
) -> torch.Tensor:
    """Potential ``v(T)`` at the end of the window of a dense TTFS layer, ``[B, N_out]``, as if no neuron
    fired (spec sections 3, 4): for a silent neuron it says how far from the threshold it stayed."""
    if solver.method == "dstd":
        return dstd_end_potential(spike_times, weight, params, solver, params.window)
    f, g, _, width = dense_intervals(spike_times, weight, params, solver, params.window)
    return end_potential(f, g, width)


def ttfs_potential_conv2d(
    spike_times: torch.Tensor, weight: torch.Tensor, params: NeuronParams, solver: SolverSettings
) -> torch.Tensor:
    """:func:`ttfs_potential` of a stride-1 'same' convolution: ``[B, C_out, H, W]``."""
    if solver.method == "exact":
        return _conv_through_patches(ttfs_potential, spike_times, weight, params, solver)
    return dstd_end_potential(spike_times, weight, params, solver, params.window)


def ttfs_spike_times(
    spike_times: torch.Tensor, weight: torch.Tensor, params: NeuronParams, solver: SolverSettings
) -> torch.Tensor:
    """First threshold crossings in ``[0, T]`` of a dense TTFS layer (spec sections 3, 4); ``+inf``: silent."""
    f, g, start, width = dense_intervals(spike_times, weight, params, solver, params.window)
    return torch.clamp(first_crossing(f, g, start, width, params.threshold), min=0.0)


def ttfs_spike_times_conv2d(
    spike_times: torch.Tensor, weight: torch.Tensor, params: NeuronParams, solver: SolverSettings
) -> torch.Tensor:
    """:func:`ttfs_spike_times` of a stride-1 'same' convolution: ``[B, C_out, H, W]``."""
    if solver.method == "exact":
        return _conv_through_patches(ttfs_spike_times, spike_times, weight, params, solver)
    f, g, start, width = conv_intervals(spike_times, weight, params, solver, params.window)
    return torch.clamp(first_crossing(f, g, start, width, params.threshold), min=0.0)
