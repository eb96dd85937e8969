"""CIFAR-10 augmentation in pure torch (MODEL.md section 6: flips, small rotations, crops).

Acts on a batch of intensities ``x`` in ``[0, 1]``, shape ``[B, C, H, W]``, before spike encoding.
All random draws come from the given CPU ``torch.Generator``, so a seeded generator gives the same
batch on any device.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_horizontal_flip(x: torch.Tensor, generator: torch.Generator, prob: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability ``prob`` (exact, no interpolation)."""
    flip = torch.rand(x.shape[0], generator=generator) < prob
    return torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)


def random_rotation(x: torch.Tensor, generator: torch.Generator, max_degrees: float = 10.0) -> torch.Tensor:
    """Rotate each image about its centre by an angle uniform in ``[-max_degrees, max_degrees]`` (degrees).

    Bilinear interpolation; corners that come from outside the image are 0 (dark: the latest spike).
    """
    angles = (torch.rand(x.shape[0], generator=generator) * 2.0 - 1.0) * math.radians(max_degrees)
    cos, sin = torch.cos(angles), torch.sin(angles)
    zeros = torch.zeros_like(angles)
    # Normalised coordinates with x to the right and y downwards; square images assumed by the spec's data.
    aspect = x.shape[-1] / x.shape[-2]
    theta = torch.stack(
        [torch.stack([cos, -sin / aspect, zeros], dim=1), torch.stack([sin * aspect, cos, zeros], dim=1)],
        dim=1,
    ).to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_crop(x: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Zero-pad each image by ``padding`` pixels on every side and cut a random window of the original size.

    Equivalent to shifting each image by an integer offset in ``[-padding, padding]`` per axis (exact).
    """
    batch, _, height, width = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    top = torch.randint(0, 2 * padding + 1, (batch,), generator=generator).to(x.device)
    left = torch.randint(0, 2 * padding + 1, (batch,), generator=generator).to(x.device)
    rows = top[:, None] + torch.arange(height, device=x.device)  # [B, H]
    cols = left[:, None] + torch.arange(width, device=x.device)  # [B, W]
    batch_index = torch.arange(batch, device=x.device)[:, None, None]
    window = padded[batch_index, :, rows[:, :, None], cols[:, None, :]]  # [B, H, W, C]
    return window.permute(0, 3, 1, 2).contiguous()


def augment_batch(
    x: torch.Tensor,
    generator: torch.Generator,
    *,
    flip_prob: float = 0.5,
    max_rotation_degrees: float = 10.0,
    crop_padding: int = 4,
) -> torch.Tensor:
    """CIFAR-10 training augmentation: random flip, small rotation, padded random crop.

    ``x``: intensities in ``[0, 1]``, ``[B, C, H, W]``; returns a new tensor of the same shape,
    dtype and device, values in ``[0, 1]``. A zero argument disables that step. Deterministic for
    a given state of the CPU ``generator``.
    """
    if x.ndim != 4:
        raise ValueError(f"augment_batch expects images [B, C, H, W], got shape {tuple(x.shape)}")
    if generator.device.type != "cpu":
        raise ValueError("augment_batch draws on a CPU torch.Generator; pass torch.Generator().manual_seed(seed)")
    out = x
    if flip_prob > 0:
        out = random_horizontal_flip(out, generator, flip_prob)
    if max_rotation_degrees > 0:
        out = random_rotation(out, generator, max_rotation_degrees)
    if crop_padding > 0:
        out = random_crop(out, generator, crop_padding)
    return out.clamp(0.0, 1.0) if out is not x else out.clone()
