"""CIFAR-10 augmentation: shapes, ranges, determinism, exact flips and crops, rotations (0°: identity,
±90° and 180°: ``torch.rot90``, small ones keep the centre)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from imcpnn.data import augment_batch, random_crop, random_horizontal_flip, random_rotation


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(8, 3, 32, 32, generator=_gen(0))


def test_shape_dtype_range_and_input_untouched(images: torch.Tensor) -> None:
    before = images.clone()
    out = augment_batch(images, _gen(1))
    assert out.shape == images.shape and out.dtype == images.dtype
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert torch.equal(images, before)
    assert not torch.equal(out, images)


def test_deterministic_with_seed(images: torch.Tensor) -> None:
    assert torch.equal(augment_batch(images, _gen(4)), augment_batch(images, _gen(4)))
    assert not torch.equal(augment_batch(images, _gen(4)), augment_batch(images, _gen(5)))


def test_flip_is_exact(images: torch.Tensor) -> None:
    flipped = augment_batch(images, _gen(0), flip_prob=1.0, max_rotation_degrees=0.0, crop_padding=0)
    assert torch.equal(flipped, images.flip(-1))
    same = augment_batch(images, _gen(0), flip_prob=0.0, max_rotation_degrees=0.0, crop_padding=0)
    assert torch.equal(same, images)


def test_crop_is_an_integer_shift_with_zero_fill(images: torch.Tensor) -> None:
    out = augment_batch(images, _gen(2), flip_prob=0.0, max_rotation_degrees=0.0, crop_padding=4)
    padded = F.pad(images, (4, 4, 4, 4))
    shifts = set()
    for b in range(images.shape[0]):
        matches = [
            (top, left)
            for top in range(9)
            for left in range(9)
            if torch.equal(out[b], padded[b, :, top : top + 32, left : left + 32])
        ]
        assert len(matches) == 1
        shifts.add(matches[0])
    assert len(shifts) > 1  # offsets drawn per image


def test_tiny_rotation_is_identity_and_small_rotation_keeps_centre() -> None:
    images = torch.rand(4, 3, 32, 32, generator=_gen(3))
    torch.testing.assert_close(random_rotation(images, _gen(0), max_degrees=1e-6), images, atol=1e-4, rtol=0)
    ones = torch.ones(16, 1, 32, 32)
    rotated = random_rotation(ones, _gen(1), max_degrees=10.0)
    torch.testing.assert_close(rotated[..., 8:24, 8:24], ones[..., 8:24, 8:24])
    assert float(rotated[..., 0, 0].min()) < 1.0  # corners come from outside: filled with 0


def test_rejects_non_image_batch() -> None:
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        augment_batch(torch.rand(3, 32, 32), _gen(0))


def test_zero_rotation_is_the_identity(images: torch.Tensor) -> None:
    torch.testing.assert_close(random_rotation(images, _gen(0), max_degrees=0.0), images, atol=1e-6, rtol=0)


@pytest.mark.parametrize(("seed", "size"), [(1, 90.0), (3, 90.0), (1, 180.0), (3, 180.0)])
def test_quarter_and_half_turns_are_rot90(images: torch.Tensor, seed: int, size: float) -> None:
    """A rotation by exactly ±90° or 180° maps pixel centres onto pixel centres: it is ``torch.rot90``.

    The angle is ``(2u - 1) max_degrees`` with ``u`` the generator's first draw (read here from a copy of
    it); ``max_degrees = size / |2u - 1|`` makes it exactly ``±size`` (seed 1: ``u > 1/2``, seed 3: ``u < 1/2``)."""
    generator = _gen(seed)
    u = float(torch.rand(1, generator=torch.Generator().set_state(generator.get_state())))
    assert (u > 0.5) == (seed == 1)  # both signs of the angle are covered
    angle = math.copysign(size, 2 * u - 1)
    rotated = random_rotation(images[:1], generator, max_degrees=size / abs(2 * u - 1))
    turns = round(angle / 90) % 4  # positive angles turn the image as torch.rot90 with k = 1 does
    torch.testing.assert_close(rotated, torch.rot90(images[:1], turns, dims=(-2, -1)), atol=1e-5, rtol=0)


def test_each_step_is_reproducible_with_its_seed(images: torch.Tensor) -> None:
    steps = {
        "flip": lambda g: random_horizontal_flip(images, g),
        "rotation": lambda g: random_rotation(images, g, max_degrees=10.0),
        "crop": lambda g: random_crop(images, g, padding=4),
    }
    for name, step in steps.items():
        assert torch.equal(step(_gen(1)), step(_gen(1))), name
        assert not torch.equal(step(_gen(1)), step(_gen(2))), name
