"""One entry point for every data set: :func:`load_dataset` (named data sets and one's own files)."""

from __future__ import annotations

from .datasets import (
    DIGITS_TEST_FRACTION,
    IRIS_TEST_SIZE,
    DataSplits,
    PathLike,
    canonical_dataset_name,
    is_data_file,
    load_cifar10,
    load_digits,
    load_fashion_mnist,
    load_iris,
)
from .user import load_data_file


def load_dataset(
    name: str,
    data_dir: PathLike | None = None,
    *,
    seed: int = 0,
    val_fraction: float | None = None,
    test_size: int | float | None = None,
    flatten: bool = False,
) -> DataSplits:
    """Load one of :data:`DATASET_NAMES`, or a ``.npz``/``.csv`` file of one's own data
    (:func:`load_data_file`), as float32 features in ``[0, 1]`` and int64 labels.

    - ``data_dir``: folder of the files (Fashion-MNIST, CIFAR-10); ignored by the bundled Iris/digits.
    - ``seed``: seeds every random split, so the same seed gives the same splits.
    - ``val_fraction``: share of the training data held out for validation, stratified
      (``None``: 0.1, Iris 0; 0 allowed).
    - ``test_size``: Iris/digits only (no official test split): a count (int) or a fraction
      (float); ``None``: 50 samples for Iris, 0.2 for digits.
    - ``flatten``: images as ``[N, C*H*W]`` for MLPs instead of ``[N, C, H, W]``.
    """
    key = canonical_dataset_name(name)
    if is_data_file(key):
        return load_data_file(key, seed=seed, val_fraction=val_fraction, test_size=test_size, flatten=flatten)
    if test_size is not None and key in ("fashion-mnist", "cifar10"):
        raise ValueError(f"{key} has an official test split; test_size applies to iris and digits only")
    if key == "iris":
        size = IRIS_TEST_SIZE if test_size is None else test_size
        return load_iris(seed=seed, test_size=size, val_fraction=val_fraction)
    if key == "digits":
        size = DIGITS_TEST_FRACTION if test_size is None else test_size
        return load_digits(seed=seed, test_size=size, val_fraction=val_fraction, flatten=flatten)
    if key == "fashion-mnist":
        return load_fashion_mnist(data_dir, seed=seed, val_fraction=val_fraction, flatten=flatten)
    return load_cifar10(data_dir, seed=seed, val_fraction=val_fraction, flatten=flatten)
