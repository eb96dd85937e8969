"""Iris and digits (bundled with scikit-learn): split sizes, stratification, seeds, value ranges."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imcpnn.data import DataSplits, canonical_dataset_name, load_dataset, load_iris


def _labels(splits: DataSplits, part: str) -> np.ndarray:
    return getattr(splits, part).tensors[1].numpy()


def test_iris_default_is_100_train_50_test() -> None:
    splits = load_dataset("iris", seed=0)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (100, 0, 50)
    assert splits.input_shape == (4,) and splits.num_classes == 3
    assert splits.classes == ("setosa", "versicolor", "virginica")
    assert sorted(np.bincount(_labels(splits, "test")).tolist()) == [16, 17, 17]  # stratified
    assert splits.train.tensors[0].dtype == torch.float32 and splits.train.tensors[1].dtype == torch.int64


def test_iris_scaled_by_training_min_max() -> None:
    splits = load_dataset("iris", seed=2)
    x_train, x_test = splits.train.tensors[0], splits.test.tensors[0]
    torch.testing.assert_close(x_train.min(dim=0).values, torch.zeros(4))
    torch.testing.assert_close(x_train.max(dim=0).values, torch.ones(4))
    assert float(x_test.min()) >= 0.0 and float(x_test.max()) <= 1.0  # clipped


def test_iris_sizes_are_parameters() -> None:
    splits = load_iris(seed=1, test_size=30, val_fraction=0.1)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (108, 12, 30)
    assert np.bincount(_labels(splits, "val")).tolist() == [4, 4, 4]
    assert len(load_dataset("iris", test_size=0.2).test) == 30


def test_same_seed_same_split_other_seed_other_split() -> None:
    first, again, other = (load_dataset("digits", seed=s) for s in (7, 7, 8))
    for part in ("train", "val", "test"):
        for a, b in zip(getattr(first, part).tensors, getattr(again, part).tensors, strict=True):
            assert torch.equal(a, b)
    assert not torch.equal(first.test.tensors[0], other.test.tensors[0])


def test_digits_sizes_shapes_and_values() -> None:
    splits = load_dataset("digits", seed=0)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (1294, 144, 359)
    x = splits.train.tensors[0]
    assert x.shape == (1294, 1, 8, 8) and splits.input_shape == (1, 8, 8)
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert torch.equal(x * 16, torch.round(x * 16))  # pixels / 16
    assert splits.classes == tuple("0123456789")
    flat = load_dataset("digits", seed=0, flatten=True)
    assert flat.train.tensors[0].shape == (1294, 64) and flat.input_shape == (64,)
    assert torch.equal(flat.train.tensors[0], x.flatten(1))


def test_digits_stratified() -> None:
    splits = load_dataset("digits", seed=3, val_fraction=0.0)
    total = np.bincount(np.concatenate([_labels(splits, "train"), _labels(splits, "test")]))
    expected = total * len(splits.test) / total.sum()
    assert np.all(np.abs(np.bincount(_labels(splits, "test")) - expected) <= 1)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown data set"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="val_fraction"):
        load_dataset("digits", val_fraction=1.0)
    with pytest.raises(ValueError, match="test_size"):
        load_dataset("iris", test_size=150)
    assert canonical_dataset_name("Fashion_MNIST") == "fashion-mnist"
    assert canonical_dataset_name("CIFAR-10") == "cifar10"
