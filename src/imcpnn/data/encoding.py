"""Spike-time encoding of the inputs (MODEL.md section 5). Pure functions; times in units of ``tau_in``.

- Images: ``t = tau_in * (1 - x)`` for ``x`` in ``[0, 1]``: bright pixels spike early.
- Tabular data (Iris): ``t = tau_in * x`` for features scaled to ``[0, 1]``, plus one bias input
  that always spikes at ``t = 0``, appended as the last input (4 features -> 5 inputs).
"""

from __future__ import annotations

import math

import torch

from .cifar10 import CIFAR10_IMAGE_SHAPE
from .datasets import DataSplits, canonical_dataset_name

TABULAR_DATASETS = ("iris",)

# Shape of one sample's features before encoding, [C, H, W] for images.
_FEATURE_SHAPES: dict[str, tuple[int, ...]] = {
    "iris": (4,),
    "digits": (1, 8, 8),
    "fashion-mnist": (1, 28, 28),
    "cifar10": CIFAR10_IMAGE_SHAPE,
}


def encode_images(x: torch.Tensor, tau_in: float = 1.0, *, flatten: bool = False) -> torch.Tensor:
    """Image intensities ``x`` in ``[0, 1]``, shape ``[B, ...]``, to spike times ``tau_in * (1 - x)``.

    Times lie in ``[0, tau_in]``; ``flatten=True`` returns ``[B, C*H*W]`` (for MLPs), otherwise
    the input shape is kept (``[B, C, H, W]`` for convolutional nets).
    """
    times = tau_in * (1.0 - x)
    return times.flatten(1) if flatten else times


def encode_tabular(x: torch.Tensor, tau_in: float = 1.0, *, bias_spike: bool = True) -> torch.Tensor:
    """Features ``x`` in ``[0, 1]``, shape ``[B, F]``, to spike times ``tau_in * x``, shape ``[B, F + 1]``.

    The appended last input is the bias spike at ``t = 0`` (``bias_spike=False``: ``[B, F]``, no bias).
    """
    times = tau_in * x
    if not bias_spike:
        return times
    bias = torch.zeros(*times.shape[:-1], 1, dtype=times.dtype, device=times.device)
    return torch.cat([times, bias], dim=-1)


def encode_inputs(name: str, x: torch.Tensor, tau_in: float = 1.0, *, flatten: bool = False) -> torch.Tensor:
    """Encode a batch of data set ``name`` with the rule the spec gives for it.

    Iris: :func:`encode_tabular` with the bias spike (``flatten`` has no effect); digits,
    Fashion-MNIST, CIFAR-10: :func:`encode_images`.
    """
    if canonical_dataset_name(name) in TABULAR_DATASETS:
        return encode_tabular(x, tau_in)
    return encode_images(x, tau_in, flatten=flatten)


def encoded_input_shape(name: str, *, flatten: bool = False) -> tuple[int, ...]:
    """Shape of one encoded sample: iris ``(5,)``, digits ``(1, 8, 8)``, Fashion-MNIST ``(1, 28, 28)``,
    CIFAR-10 ``(3, 32, 32)``; with ``flatten=True`` images become ``(64,)``, ``(784,)``, ``(3072,)``."""
    key = canonical_dataset_name(name)
    shape = _FEATURE_SHAPES[key]
    if key in TABULAR_DATASETS:
        return (shape[0] + 1,)
    return (math.prod(shape),) if flatten else shape


def encoded_input_size(name: str) -> int:
    """Number of network inputs after encoding: iris 5, digits 64, Fashion-MNIST 784, CIFAR-10 3072."""
    return math.prod(encoded_input_shape(name))


def encode_splits(splits: DataSplits, x: torch.Tensor, *, flatten: bool = False) -> torch.Tensor:
    """Encode a batch of ``splits``' features with the rule its ``encoding`` names (named data sets and
    one's own data alike): tabular :func:`encode_tabular`, images :func:`encode_images`."""
    if splits.encoding == "tabular":
        return encode_tabular(x)
    return encode_images(x, flatten=flatten)
