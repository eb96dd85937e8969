"""The registry of neuron families, in the manner of torchdiffeq's ``SOLVERS``.

A family is everything that differs between kinds of IMC-aware neuron: its time window, its spike-time
kernels (dense and convolutional, unchecked: see :mod:`imcpnn.kernels`), its weight initialisation
and its default settings. Layers, the trainer, the experiments and the benchmarks look a family up
here instead of branching on its name. A new family (a leaky one, say) is one more :class:`NeuronFamily`
in :data:`FAMILIES`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from . import kernels
from .params import NeuronParams, SolverSettings
from .physics.neuron import log_ratio

#: A layer kernel: ``(spike_times, weight, params, solver) -> output spike times``.
SpikeKernel = Callable[[torch.Tensor, torch.Tensor, NeuronParams, SolverSettings], torch.Tensor]
#: A weight initialisation of a network's layers, in place: ``(weights, params)``.
Initialisation = Callable[[Sequence[torch.Tensor], NeuronParams], None]


@dataclass(frozen=True)
class FamilyDefaults:
    """A family's default settings (spec ``MODEL.md`` section 6); the data-set presets override some.

    Attributes:
        steps: DSTD training steps ``M``.
        eval_steps: DSTD steps in evaluation.
        e_rev: symmetric ``|E±|`` of a physical network.
        window: the time window ``T`` (fixed at 1 for RC-Spike).
        lr: Adam learning rate.
        gamma_temporal: weight γ1 of the temporal penalty.
        t_ref: reference time of the temporal penalty (and of the TTFS initialisation).
        gamma_q: weight γ2 of the TTFS firing regulariser.
        grad_clip: clip of the gradient's global L2 norm (``None``: no clip).
        silent_surrogate: slope of the loss's surrogate time for silent outputs (0: off; see
            :func:`imcpnn.training.losses.silent_surrogate_times`).
    """

    steps: int
    eval_steps: int
    e_rev: float
    window: float
    lr: float
    gamma_temporal: float
    t_ref: float
    gamma_q: float
    grad_clip: float | None = None
    silent_surrogate: float = 0.0


@dataclass(frozen=True)
class NeuronFamily:
    """One kind of IMC-aware neuron.

    Attributes:
        name: the registry key (``--model`` on the command line).
        description: one line for help texts.
        dense, conv2d: unchecked spike-time kernels of a dense layer and of a stride-1 'same' convolution.
        potential, potential_conv2d: unchecked kernels of the potential at the end of the (accumulation)
            window, dense and convolutional: what a silent neuron's surrogate time is made of.
        fixed_window: the family's time window when it is fixed (RC-Spike: 1); ``None``: ``params.window``.
        initialise: the family's weight initialisation of a whole network, or ``None`` for the layers'
            default (``U(±1/sqrt(fan_in))``).
        ideal_e_rev: ``|E±|`` of the ideal ("ANN") network of the top-down flow (spec section 6).
        defaults: the family's default settings.
    """

    name: str
    description: str
    dense: SpikeKernel
    conv2d: SpikeKernel
    potential: SpikeKernel
    potential_conv2d: SpikeKernel
    fixed_window: float | None
    initialise: Initialisation | None
    ideal_e_rev: float
    defaults: FamilyDefaults

    def window(self, params: NeuronParams) -> float:
        """The time window of this family's neurons with ``params``."""
        return params.window if self.fixed_window is None else self.fixed_window


def ttfs_weight_bound(n_in: int, n_layers: int, e_rev_pos: float, t_ref: float = 3.2, w_star: float = 2.0) -> float:
    """Upper bound ``w_max / N_in`` of the TTFS initialisation ``w ~ U(0, w_max / N_in)`` (spec section 6).

    ``w_max = -4 w* L² ln(1 - β) / (β t_ref²)`` with ``β = 1/E+`` (paper eq. 107): the mean input
    drive then makes a neuron fire after about ``t_ref / L``. ``β -> 0`` gives ``4 w* L² / t_ref²``.
    """
    beta = 1.0 / e_rev_pos
    if beta >= 1.0:
        raise ValueError(
            f"TTFS neurons need e_rev_pos > 1 (the threshold) to fire: the potential never exceeds E+; "
            f"got e_rev_pos={e_rev_pos:g}"
        )
    return 4.0 * w_star * n_layers**2 * log_ratio(beta) / (t_ref**2 * n_in)


TTFS_T_REF = 3.2  # the TTFS initialisation's target firing time (paper eq. 107)


def init_ttfs_weights(weights: Sequence[torch.Tensor], params: NeuronParams, t_ref: float = TTFS_T_REF) -> None:
    """``w ~ U(0, ttfs_weight_bound)`` for every layer's weight, in place (spec section 6)."""
    with torch.no_grad():
        for weight in weights:
            fan_in = math.prod(weight.shape[1:])
            weight.uniform_(0.0, ttfs_weight_bound(fan_in, len(weights), params.e_rev_pos, t_ref))


RC_SPIKE = NeuronFamily(
    name="rcspike",
    description="two-phase RC-Spike neuron: accumulation in [0, 1], then a discharger ramp fires it",
    dense=kernels.rc_spike_times,
    conv2d=kernels.rc_spike_times_conv2d,
    potential=kernels.rc_spike_potential,
    potential_conv2d=kernels.rc_spike_potential_conv2d,
    fixed_window=kernels.RC_SPIKE_WINDOW,
    initialise=None,
    ideal_e_rev=100.0,
    defaults=FamilyDefaults(
        steps=4,
        eval_steps=30,
        e_rev=2.0,
        window=kernels.RC_SPIKE_WINDOW,
        lr=1e-4,
        gamma_temporal=2.6,
        t_ref=0.9,
        gamma_q=0.0,
    ),
)

TTFS = NeuronFamily(
    name="ttfs",
    description="time-to-first-spike neuron: one spike in [0, T] when the potential crosses the threshold",
    dense=kernels.ttfs_spike_times,
    conv2d=kernels.ttfs_spike_times_conv2d,
    potential=kernels.ttfs_potential,
    potential_conv2d=kernels.ttfs_potential_conv2d,
    fixed_window=None,
    initialise=init_ttfs_weights,
    ideal_e_rev=31.6,
    defaults=FamilyDefaults(
        steps=20,
        eval_steps=60,
        e_rev=2.0,
        window=4.0,
        lr=2e-4,
        gamma_temporal=0.02,
        t_ref=TTFS_T_REF,
        gamma_q=8e-6,
        grad_clip=1.0,
        silent_surrogate=1.0,  # digits, seed 1, 40 epochs: 81.6 % -> 88.6 % (docs/results.md, issue 11)
    ),
)

#: Every neuron family by name.
FAMILIES: dict[str, NeuronFamily] = {family.name: family for family in (RC_SPIKE, TTFS)}


def get_family(name: str) -> NeuronFamily:
    """The family called ``name``; a :class:`ValueError` lists the known ones."""
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown neuron family {name!r}; choose one of {', '.join(FAMILIES)}") from None
