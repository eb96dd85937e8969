"""Data sets as plain tensors with seeded train/validation/test splits (MODEL.md section 5).

Features are float32 in ``[0, 1]`` (not yet spike-encoded: see :mod:`imcpnn.data.encoding`),
labels int64. Images are ``[N, C, H, W]`` (``flatten=True``: ``[N, C*H*W]``), Iris ``[N, 4]``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import sklearn.datasets
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import TensorDataset

from .cifar10 import CIFAR10_CLASSES, read_cifar10
from .fashion_mnist import FASHION_MNIST_CLASSES, read_fashion_mnist

DATASET_NAMES = ("iris", "digits", "fashion-mnist", "cifar10")
DATA_FILE_SUFFIXES = (".npz", ".csv")  # one's own data (see imcpnn.data.user)
_ALIASES = {"fmnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "cifar-10": "cifar10"}

IRIS_TEST_SIZE = 50  # the circuit flow: 100 training and 50 test samples (MODEL.md section 7)
DIGITS_TEST_FRACTION = 0.2
DEFAULT_VAL_FRACTION = 0.1
# Iris keeps all 100 training samples by default (the circuit network trains on them).
_DEFAULT_VAL_FRACTIONS = {"iris": 0.0}

PathLike = str | Path


@dataclass(frozen=True)
class DataSplits:
    """Train/validation/test splits of one data set; each a ``TensorDataset(features, labels)``.

    ``val`` is an empty dataset (zero rows) when no validation split was asked for.
    ``input_shape`` is the shape of one sample's features (before encoding); ``encoding`` the spike
    encoding they take (:func:`imcpnn.data.encoding.encode_splits`).
    """

    name: str
    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    num_classes: int
    input_shape: tuple[int, ...]
    classes: tuple[str, ...]
    encoding: Literal["tabular", "image"] = "image"


def is_data_file(name: str) -> bool:
    """Whether ``name`` names a file of the user's own data (``.npz`` or ``.csv``) rather than a data set."""
    return isinstance(name, str) and name.lower().endswith(DATA_FILE_SUFFIXES)


def dataset_key(name: str) -> str:
    """:func:`canonical_dataset_name` where ``name`` is known, else ``name`` as given (an in-memory data set's
    name, e.g. of :func:`load_arrays`; :func:`load_dataset` refuses it)."""
    try:
        return canonical_dataset_name(name)
    except ValueError:
        return name


def canonical_dataset_name(name: str) -> str:
    """Normalise a data set name (case, ``_`` for ``-``, aliases); a data file's path is kept as given;
    :class:`ValueError` if unknown."""
    if is_data_file(name):
        return str(name)
    key = name.strip().lower().replace("_", "-")
    key = _ALIASES.get(key, _ALIASES.get(key.replace("-", ""), key))
    if key not in DATASET_NAMES:
        raise ValueError(
            f"unknown data set {name!r}; choose one of {', '.join(DATASET_NAMES)}, or give a .npz or .csv file of "
            "your own features and labels"
        )
    return key


def _holdout_count(size: int | float, total: int, what: str) -> int:
    """Number of held-out samples from an absolute count (int) or a fraction of ``total`` (float)."""
    if isinstance(size, bool) or not isinstance(size, numbers.Real):
        raise TypeError(f"{what} must be an int (count) or a float (fraction), not {type(size).__name__}")
    if isinstance(size, numbers.Integral):
        count = int(size)
    else:
        if not 0.0 <= size < 1.0:
            raise ValueError(f"{what} fraction must be in [0, 1), got {size}")
        count = round(float(size) * total)
    if not 0 <= count < total:
        raise ValueError(f"{what} of {count} samples impossible with {total} samples")
    return count


def split_indices(labels: np.ndarray, holdout: int, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """Split ``arange(len(labels))`` into ``(kept, held_out)`` with ``holdout`` held-out samples.

    Stratified by label (sklearn ``train_test_split``) whenever both parts can hold every class;
    ``holdout=0`` keeps all samples in their original order.
    """
    indices = np.arange(len(labels))
    if holdout == 0:
        return indices, indices[:0]
    num_classes = len(np.unique(labels))
    can_stratify = holdout >= num_classes and len(labels) - holdout >= num_classes
    kept, held_out = train_test_split(
        indices, test_size=holdout, stratify=labels if can_stratify else None, random_state=rng
    )
    return np.asarray(kept), np.asarray(held_out)


def _to_dataset(features: np.ndarray, labels: np.ndarray, full_scale: float = 1.0) -> TensorDataset:
    """Features divided by ``full_scale`` (255 for bytes, 16 for digits) as float32, int64 labels."""
    scaled = np.array(features, dtype=np.float32, order="C")  # always a fresh copy
    if full_scale != 1.0:
        scaled /= np.float32(full_scale)
    return TensorDataset(
        torch.from_numpy(scaled),
        torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64)),
    )


def _make_splits(
    name: str,
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    val_fraction: float,
    rng: np.random.RandomState,
    classes: tuple[str, ...],
    flatten: bool,
    full_scale: float,
) -> DataSplits:
    """Carve the validation split out of the training data and convert all three to tensors."""
    holdout = _holdout_count(float(val_fraction), len(train_y), "val_fraction")
    kept, val = split_indices(train_y, holdout, rng)
    if flatten:
        train_x, test_x = train_x.reshape(len(train_x), -1), test_x.reshape(len(test_x), -1)
    return DataSplits(
        name=name,
        train=_to_dataset(train_x[kept], train_y[kept], full_scale),
        val=_to_dataset(train_x[val], train_y[val], full_scale),
        test=_to_dataset(test_x, test_y, full_scale),
        num_classes=len(classes),
        input_shape=tuple(int(d) for d in train_x.shape[1:]),
        classes=classes,
    )


def _resolve_val_fraction(name: str, val_fraction: float | None) -> float:
    return _DEFAULT_VAL_FRACTIONS.get(name, DEFAULT_VAL_FRACTION) if val_fraction is None else val_fraction


def load_iris(
    *, seed: int = 0, test_size: int | float = IRIS_TEST_SIZE, val_fraction: float | None = None
) -> DataSplits:
    """Iris (scikit-learn's bundled copy): 4 features min-max scaled to ``[0, 1]``.

    Stratified test split (default 50 of 150 samples), then ``val_fraction`` of the rest for
    validation (default 0: 100 training samples). Scaling uses the training split's min and max;
    validation and test features are clipped to ``[0, 1]``.
    """
    rng = np.random.RandomState(seed)
    bunch = sklearn.datasets.load_iris()
    features, labels = bunch.data.astype(np.float64), bunch.target.astype(np.int64)
    train_idx, test_idx = split_indices(labels, _holdout_count(test_size, len(labels), "test_size"), rng)
    holdout = _holdout_count(float(_resolve_val_fraction("iris", val_fraction)), len(train_idx), "val_fraction")
    kept, val = split_indices(labels[train_idx], holdout, rng)
    train_idx, val_idx = train_idx[kept], train_idx[val]
    low = features[train_idx].min(axis=0)
    span = features[train_idx].max(axis=0) - low
    span[span == 0] = 1.0

    def scale(idx: np.ndarray) -> np.ndarray:
        return np.clip((features[idx] - low) / span, 0.0, 1.0)

    classes = tuple(str(c) for c in bunch.target_names)
    return DataSplits(
        name="iris",
        train=_to_dataset(scale(train_idx), labels[train_idx]),
        val=_to_dataset(scale(val_idx), labels[val_idx]),
        test=_to_dataset(scale(test_idx), labels[test_idx]),
        num_classes=len(classes),
        input_shape=(features.shape[1],),
        classes=classes,
        encoding="tabular",
    )


def load_digits(
    *,
    seed: int = 0,
    test_size: int | float = DIGITS_TEST_FRACTION,
    val_fraction: float | None = None,
    flatten: bool = False,
) -> DataSplits:
    """8x8 handwritten digits (scikit-learn's bundled copy, 1797 samples), pixels ``/16`` in ``[0, 1]``.

    Images ``[N, 1, 8, 8]`` (``flatten=True``: ``[N, 64]``); stratified test split (default 20 %),
    then ``val_fraction`` of the rest (default 0.1) for validation.
    """
    rng = np.random.RandomState(seed)
    bunch = sklearn.datasets.load_digits()
    images = bunch.images.reshape(-1, 1, 8, 8)  # values 0..16
    labels = bunch.target.astype(np.int64)
    train_idx, test_idx = split_indices(labels, _holdout_count(test_size, len(labels), "test_size"), rng)
    classes = tuple(str(d) for d in range(10))
    return _make_splits(
        "digits", images[train_idx], labels[train_idx], images[test_idx], labels[test_idx],
        _resolve_val_fraction("digits", val_fraction), rng, classes, flatten, full_scale=16.0,
    )  # fmt: skip


def load_fashion_mnist(
    data_dir: PathLike | None = None,
    *,
    seed: int = 0,
    val_fraction: float | None = None,
    flatten: bool = False,
) -> DataSplits:
    """Fashion-MNIST from its IDX files (default folder ``/usr/share/datasets/fashion-mnist``).

    Pixels ``/255`` in ``[0, 1]``, images ``[N, 1, 28, 28]`` (``flatten=True``: ``[N, 784]``); the
    official 10000-image test split; ``val_fraction`` of the 60000 training images (stratified).
    """
    train_x, train_y, test_x, test_y = read_fashion_mnist(data_dir)
    return _make_splits(
        "fashion-mnist", train_x[:, None], train_y, test_x[:, None], test_y,
        _resolve_val_fraction("fashion-mnist", val_fraction), np.random.RandomState(seed),
        FASHION_MNIST_CLASSES, flatten, full_scale=255.0,
    )  # fmt: skip


def load_cifar10(
    data_dir: PathLike | None, *, seed: int = 0, val_fraction: float | None = None, flatten: bool = False
) -> DataSplits:
    """CIFAR-10 from ``cifar-10-batches-bin`` or ``cifar-10-batches-py`` (the folder or its parent).

    Pixels ``/255`` in ``[0, 1]``, images ``[N, 3, 32, 32]`` (``flatten=True``: ``[N, 3072]``); the
    official test batch; ``val_fraction`` of the 50000 training images (stratified). Float32 copies
    take about 740 MB.
    """
    train_x, train_y, test_x, test_y = read_cifar10(data_dir)
    return _make_splits(
        "cifar10", train_x, train_y, test_x, test_y,
        _resolve_val_fraction("cifar10", val_fraction), np.random.RandomState(seed), CIFAR10_CLASSES, flatten,
        full_scale=255.0,
    )  # fmt: skip
