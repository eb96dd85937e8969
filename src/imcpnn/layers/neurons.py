"""``torch.nn`` layers of IMC-aware neurons: thin wrappers over the family kernels (:mod:`imcpnn.families`)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import functional as fn
from ..params import SolverSettings
from .config import NeuronConfig


class SpikingLayer(nn.Module):
    """Base class: holds the weight and the :class:`NeuronConfig`; one forward for every layer kind.

    The forward calls the family's unchecked kernel (:mod:`imcpnn.families`): the config was checked
    when made, so no step re-validates. In training mode a DSTD layer draws a fresh grid offset
    ``o ~ U(0, Δ)`` every forward pass (when ``config.random_offset``); in evaluation mode ``o = 0``
    and ``config.eval_steps`` apply.
    """

    convolutional = False

    def __init__(self, weight_shape: tuple[int, ...], config: NeuronConfig) -> None:
        super().__init__()
        self.config = config
        self.weight = nn.Parameter(torch.empty(weight_shape))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, like ``torch.nn.Linear``."""
        fan_in = math.prod(self.weight.shape[1:])
        bound = 1.0 / math.sqrt(fan_in)
        nn.init.uniform_(self.weight, -bound, bound)

    def solver_settings(self) -> SolverSettings:
        """``method``, ``steps`` and ``offset`` for the kernel call in the current mode."""
        config = self.config
        steps = config.steps_for(self.training)
        offset = 0.0
        if self.training and config.random_offset and config.solver == "dstd":
            width = config.time_window / steps
            offset = float(torch.rand(())) * width  # in [0, Δ): torch.rand never returns 1
        return SolverSettings(method=config.solver, steps=steps, offset=offset)

    def add_spike_noise(self, spike_times: torch.Tensor) -> torch.Tensor:
        """``t + N(0, σ²)`` on the spikes that exist, kept inside the time window (spec section 6)."""
        sigma = self.config.spike_noise
        if sigma == 0.0:
            return spike_times
        noisy = torch.clamp(spike_times + sigma * torch.randn_like(spike_times), 0.0, self.config.time_window)
        return torch.where(torch.isfinite(spike_times), noisy, spike_times)

    def forward(self, spike_times: torch.Tensor) -> torch.Tensor:
        family = self.config.neuron_family
        kernel = family.conv2d if self.convolutional else family.dense
        return self.add_spike_noise(kernel(spike_times, self.weight, self.config.params, self.solver_settings()))

    def end_potential(self, spike_times: torch.Tensor) -> torch.Tensor:
        """The potential at the end of the (accumulation) window, as if no neuron fired, without spike noise."""
        family = self.config.neuron_family
        kernel = family.potential_conv2d if self.convolutional else family.potential
        return kernel(spike_times, self.weight, self.config.params, self.solver_settings())

    def extra_repr(self) -> str:
        c, p = self.config, self.config.params
        return (
            f"weight={tuple(self.weight.shape)}, family={c.family}, E+={p.e_rev_pos:g}, E-={p.e_rev_neg:g}, "
            f"solver={c.solver}, steps={c.steps}, eval_steps={c.eval_steps or c.steps}"
        )


class SpikingLinear(SpikingLayer):
    """Fully connected layer of IMC-aware neurons: spike times ``[B, N_in] -> [B, N_out]``."""

    def __init__(self, in_features: int, out_features: int, config: NeuronConfig | None = None) -> None:
        self.in_features, self.out_features = in_features, out_features
        super().__init__((out_features, in_features), config or NeuronConfig())


class SpikingConv2d(SpikingLayer):
    """Convolution (odd ``k``, 3 in the paper) of IMC-aware neurons, stride 1, padding ``k // 2``."""

    convolutional = True

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 3, config: NeuronConfig | None = None
    ) -> None:
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd (3 for the paper's networks); got {kernel_size}")
        self.in_channels, self.out_channels = in_channels, out_channels
        super().__init__((out_channels, in_channels, kernel_size, kernel_size), config or NeuronConfig())


class MinPool2d(nn.Module):
    """2x2 pooling, stride 2, as the earliest spike (spec section 5)."""

    def __init__(self, kernel_size: int = 2) -> None:
        super().__init__()
        self.kernel_size = kernel_size

    def forward(self, spike_times: torch.Tensor) -> torch.Tensor:
        return fn.min_pool2d(spike_times, self.kernel_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}"
