"""Spike-time encodings of MODEL.md section 5."""

from __future__ import annotations

import pytest
import torch

from imcpnn.data import (
    DATASET_NAMES,
    encode_images,
    encode_inputs,
    encode_tabular,
    encoded_input_shape,
    encoded_input_size,
    load_dataset,
)


def test_images_bright_pixels_spike_early() -> None:
    x = torch.tensor([[[[0.0, 0.25], [0.9, 1.0]]]])
    t = encode_images(x)
    torch.testing.assert_close(t, 1.0 - x)
    assert t.flatten().argmin() == x.flatten().argmax()  # brightest first
    assert float(t.min()) >= 0.0 and float(t.max()) <= 1.0
    torch.testing.assert_close(encode_images(x, tau_in=2.0), 2.0 * (1.0 - x))
    assert encode_images(torch.rand(3, 3, 32, 32), flatten=True).shape == (3, 3072)


def test_tabular_times_and_bias_spike() -> None:
    x = torch.rand(6, 4)
    t = encode_tabular(x, tau_in=1.5)
    assert t.shape == (6, 5)
    torch.testing.assert_close(t[:, :4], 1.5 * x)
    assert torch.equal(t[:, 4], torch.zeros(6))  # bias spike at t = 0, last input
    assert encode_tabular(x, bias_spike=False).shape == (6, 4)


@pytest.mark.parametrize(
    ("name", "shape", "flat_shape", "size"),
    [
        ("iris", (5,), (5,), 5),
        ("digits", (1, 8, 8), (64,), 64),
        ("fashion-mnist", (1, 28, 28), (784,), 784),
        ("cifar10", (3, 32, 32), (3072,), 3072),
    ],
)
def test_encoded_sizes(name: str, shape: tuple, flat_shape: tuple, size: int) -> None:
    assert encoded_input_shape(name) == shape
    assert encoded_input_shape(name, flatten=True) == flat_shape
    assert encoded_input_size(name) == size


def test_sizes_cover_every_dataset() -> None:
    assert {encoded_input_size(name) for name in DATASET_NAMES} == {5, 64, 784, 3072}


@pytest.mark.parametrize("name", ["iris", "digits"])
@pytest.mark.parametrize("flatten", [False, True])
def test_encode_inputs_matches_declared_shape(name: str, flatten: bool) -> None:
    splits = load_dataset(name, seed=0)
    t = encode_inputs(name, splits.test.tensors[0][:4], flatten=flatten)
    assert tuple(t.shape[1:]) == encoded_input_shape(name, flatten=flatten)
    assert float(t.min()) >= 0.0 and float(t.max()) <= 1.0
