"""Public functional API: pure, batched, differentiable tensor functions (spec ``MODEL.md`` sections 1-4).

Shapes: dense layers take ``spike_times`` ``[B, N_in]`` and ``weight`` ``[N_out, N_in]``; convolutions
take ``[B, C_in, H, W]`` and ``[C_out, C_in, k, k]`` (odd ``k``, stride 1, 'same' padding). Times
are normalised (one circuit phase = 1) and ``+inf`` means "no spike". ``method="exact"`` is the
event-driven solution; ``method="dstd"`` the discretised one with ``steps`` intervals and grid
``offset``. Both work in float32 and float64, on CPU and CUDA, and are differentiable with respect
to spike times and weights. Every bad argument raises ``ValueError`` naming it.

Each function checks its arguments once here (torchdiffeq's ``_check_inputs`` pattern) and calls
the unchecked kernel of :mod:`imcpnn.kernels`, which the layers call directly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import kernels
from . import validation as check
from .params import NeuronParams, SolverSettings
from .physics import neuron

__all__ = [
    "min_pool2d",
    "rc_spike_fire",
    "rc_spike_potential",
    "rc_spike_potential_conv2d",
    "rc_spike_potential_trace",
    "rc_spike_times",
    "ttfs_spike_times",
    "ttfs_spike_times_conv2d",
]

RC_SPIKE_WINDOW = kernels.RC_SPIKE_WINDOW


def _checked(
    window: float, *, e_rev_pos: float, e_rev_neg: float, leak: float, method: str, steps: int, offset: float,
    beta_dis: float = 0.0, threshold: float = 1.0,
) -> tuple[NeuronParams, SolverSettings]:  # fmt: skip
    """The typed parameters of a call; :class:`NeuronParams` and :class:`SolverSettings` check every value."""
    params = NeuronParams(
        e_rev_pos=e_rev_pos, e_rev_neg=e_rev_neg, leak=leak, beta_dis=beta_dis, threshold=threshold, window=window
    )
    solver = SolverSettings(method=method, steps=steps, offset=offset)  # type: ignore[arg-type]
    solver.check_window(window)
    return params, solver


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
    if min(weight.shape[:2]) == 0 or min(spike_times.shape[2:]) == 0:
        raise ValueError(
            "a convolution needs at least one input channel, one output channel and an image of at least 1x1; got "
            f"weight {tuple(weight.shape)} and spike_times {tuple(spike_times.shape)}"
        )
    check.check_same_kind(spike_times, weight)


def _check_dense(spike_times: torch.Tensor, weight: torch.Tensor, window: float) -> None:
    check.check_spike_times(spike_times, window)
    check.check_dense_shapes(spike_times, weight)


def _check_conv(spike_times: torch.Tensor, weight: torch.Tensor, window: float) -> None:
    check.check_spike_times(spike_times, window)
    _check_conv_shapes(spike_times, weight)


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
    _check_dense(spike_times, weight, RC_SPIKE_WINDOW)
    params, solver = _checked(
        RC_SPIKE_WINDOW, e_rev_pos=e_rev_pos, e_rev_neg=e_rev_neg, leak=leak, method=method, steps=steps, offset=offset
    )
    return kernels.rc_spike_potential(spike_times, weight, params, solver)


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
    _check_conv(spike_times, weight, RC_SPIKE_WINDOW)
    params, solver = _checked(
        RC_SPIKE_WINDOW, e_rev_pos=e_rev_pos, e_rev_neg=e_rev_neg, leak=leak, method=method, steps=steps, offset=offset
    )
    return kernels.rc_spike_potential_conv2d(spike_times, weight, params, solver)


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
    _check_dense(spike_times, weight, RC_SPIKE_WINDOW)
    check.check_spike_times(times, RC_SPIKE_WINDOW, name="times")
    params, solver = _checked(
        RC_SPIKE_WINDOW, e_rev_pos=e_rev_pos, e_rev_neg=e_rev_neg, leak=leak, method=method, steps=steps, offset=offset
    )
    return kernels.rc_spike_potential_trace(spike_times, weight, times, params, solver)


def rc_spike_fire(potential: torch.Tensor, *, beta_dis: float = 0.0) -> torch.Tensor:
    """Firing-phase spike time of an RC-Spike neuron (spec section 2), in ``[0, 1]``.

    Ideal ramp (``beta_dis = 0``): ``t = clip(1 - v_end, 0, 1)``. With the discharger's
    non-ideality: ``t = clip(1 - ln(1 - β_dis v_end) / ln(1 - β_dis), 0, 1)``; a potential at or
    above ``1/β_dis`` fires at once.
    """
    check.check_potential(potential)
    return neuron.rc_spike_fire(potential, beta_dis=check.check_beta_dis(beta_dis))


def rc_spike_times(
    spike_times: torch.Tensor,
    weight: torch.Tensor,
    *,
    e_rev_pos: float,
    e_rev_neg: float,
    leak: float = 0.0,
    beta_dis: float = 0.0,
    method: str = "exact",
    steps: int = 10,
    offset: float = 0.0,
) -> torch.Tensor:
    """Output spike times of a dense RC-Spike layer, ``[B, N_out]`` in ``[0, 1]`` (spec section 2).

    :func:`rc_spike_potential` (accumulation), then :func:`rc_spike_fire` (firing phase, ``beta_dis``).
    """
    _check_dense(spike_times, weight, RC_SPIKE_WINDOW)
    params, solver = _checked(
        RC_SPIKE_WINDOW, e_rev_pos=e_rev_pos, e_rev_neg=e_rev_neg, leak=leak, method=method, steps=steps,
        offset=offset, beta_dis=beta_dis,
    )  # fmt: skip
    return kernels.rc_spike_times(spike_times, weight, params, solver)


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
    window = check.check_window(window)
    check.check_threshold(threshold)
    _check_dense(spike_times, weight, window)
    params, solver = _checked(
        window, e_rev_pos=e_rev_pos, e_rev_neg=e_rev_neg, leak=leak, method=method, steps=steps, offset=offset,
        threshold=threshold,
    )  # fmt: skip
    return kernels.ttfs_spike_times(spike_times, weight, params, solver)


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
    window = check.check_window(window)
    check.check_threshold(threshold)
    _check_conv(spike_times, weight, window)
    params, solver = _checked(
        window, e_rev_pos=e_rev_pos, e_rev_neg=e_rev_neg, leak=leak, method=method, steps=steps, offset=offset,
        threshold=threshold,
    )  # fmt: skip
    return kernels.ttfs_spike_times_conv2d(spike_times, weight, params, solver)


def min_pool2d(spike_times: torch.Tensor, kernel_size: int = 2) -> torch.Tensor:
    """Pooling as the earliest spike in each ``k x k`` block, stride ``k`` (spec section 5).

    The same as max-pooling ``x = 1 - t``; ``+inf`` (no spike) loses to any spike.
    """
    if not isinstance(spike_times, torch.Tensor) or spike_times.dim() != 4:
        raise ValueError(
            f"spike_times must have shape [batch, channels, height, width]; got {getattr(spike_times, 'shape', None)}"
        )
    smallest = min(spike_times.shape[2:])
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or not 1 <= kernel_size <= smallest:
        raise ValueError(
            f"kernel_size must be an integer in [1, {smallest}] (at most the image's smaller side); got {kernel_size!r}"
        )
    return -F.max_pool2d(-spike_times, kernel_size)
