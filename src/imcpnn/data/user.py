"""One's own data: arrays in the Python API, a ``.npz`` or ``.csv`` file for ``imcpnn train --dataset FILE``.

Tabular features are scaled and encoded as Iris's are, images as the image data sets' are (MODEL.md
section 5); the splits are stratified and seeded like the bundled data sets'.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import torch

from .datasets import DEFAULT_VAL_FRACTION, DataSplits, PathLike, _holdout_count, _make_splits, split_indices

USER_TEST_FRACTION = 0.2  # a data file without a test split: this share of it, stratified


def load_arrays(
    features: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    *,
    name: str = "arrays",
    seed: int = 0,
    test_size: int | float | None = None,
    val_fraction: float | None = None,
    test_features: np.ndarray | torch.Tensor | None = None,
    test_labels: np.ndarray | torch.Tensor | None = None,
    flatten: bool = False,
) -> DataSplits:
    """Splits of one's own data (the Python API behind ``imcpnn train --dataset FILE``).

    ``features``: ``[N, F]`` (tabular: min-max scaled with the training split's range, clipped to ``[0, 1]``,
    encoded as Iris is: ``t = x`` and a bias spike) or ``[N, H, W]`` / ``[N, C, H, W]`` (images: uint8 is
    divided by 255, floats must lie in ``[0, 1]``; encoded ``t = 1 - x``). ``labels``: ``[N]`` of any
    values, mapped to classes ``0 .. K-1`` in sorted order. Without ``test_features`` a stratified
    ``test_size`` (default 0.2) is held out; ``val_fraction`` (default 0.1) of the rest validates.
    """
    x = _checked_features(features, "features")
    raw = _checked_labels(labels, len(x), "labels")
    classes = np.unique(raw)
    if len(classes) < 2:
        raise ValueError(f"labels hold {len(classes)} class; a classifier needs at least 2")
    y = np.searchsorted(classes, raw).astype(np.int64)
    rng = np.random.RandomState(seed)
    if test_features is None:
        if test_labels is not None:
            raise ValueError("test_labels given without test_features")
        count = _holdout_count(USER_TEST_FRACTION if test_size is None else test_size, len(y), "test_size")
        train_idx, test_idx = split_indices(y, count, rng)
        train_x, train_y, test_x, test_y = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
    else:
        if test_size is not None:
            raise ValueError("give either test_size or test_features, not both")
        test_x = _checked_features(test_features, "test_features")
        if test_x.shape[1:] != x.shape[1:]:
            raise ValueError(f"test_features have shape {test_x.shape[1:]} per sample, features {x.shape[1:]}")
        raw_test = _checked_labels(test_labels, len(test_x), "test_labels")
        unknown = np.setdiff1d(raw_test, classes)
        if unknown.size:
            raise ValueError(f"test_labels hold classes the training labels do not: {unknown[:5].tolist()}")
        train_x, train_y, test_x, test_y = x, y, test_x, np.searchsorted(classes, raw_test).astype(np.int64)
    tabular = x.ndim == 2
    if tabular:
        low = train_x.min(axis=0)
        span = train_x.max(axis=0) - low
        span[span == 0] = 1.0
        train_x, test_x = (np.clip((a - low) / span, 0.0, 1.0) for a in (train_x, test_x))
    splits = _make_splits(
        name, train_x, train_y, test_x, test_y, DEFAULT_VAL_FRACTION if val_fraction is None else val_fraction,
        rng, tuple(str(c) for c in classes), flatten and not tabular, 1.0,
    )  # fmt: skip
    return dataclasses.replace(splits, encoding="tabular" if tabular else "image")


def _checked_features(features: np.ndarray | torch.Tensor, what: str) -> np.ndarray:
    """float64 features ``[N, F]`` or images ``[N, C, H, W]`` (a channel added to ``[N, H, W]``)."""
    array = features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else np.asarray(features)
    if array.dtype == np.uint8 and array.ndim >= 3:
        array = array / 255.0
    if not np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_:
        raise ValueError(f"{what} must be numbers; got dtype {array.dtype}")
    array = array.astype(np.float64)
    if array.ndim not in (2, 3, 4) or array.shape[0] == 0 or 0 in array.shape:
        raise ValueError(
            f"{what} must be [N, F] (tabular) or [N, H, W] / [N, C, H, W] (images) with no empty axis; "
            f"got shape {array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"{what} contain NaN or infinite values; fill or drop those samples first")
    if array.ndim >= 3 and (array.min() < 0.0 or array.max() > 1.0):
        raise ValueError(
            f"image {what} must be uint8 or lie in [0, 1]; got values in [{array.min():g}, {array.max():g}]"
        )
    return array[:, None] if array.ndim == 3 else array


def _checked_labels(labels: np.ndarray | torch.Tensor | None, count: int, what: str) -> np.ndarray:
    array = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if array.ndim != 1 or len(array) != count:
        raise ValueError(f"{what} must be one label per sample, [{count}]; got shape {array.shape}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    return array


def load_data_file(
    path: PathLike,
    *,
    seed: int = 0,
    val_fraction: float | None = None,
    test_size: int | float | None = None,
    flatten: bool = False,
) -> DataSplits:
    """One's own data from a file, split and scaled by :func:`load_arrays`.

    - ``.npz`` (``numpy.savez``): arrays ``x`` (or ``features``) and ``y`` (or ``labels``); optionally
      ``x_test`` and ``y_test`` as the test split. Read with ``allow_pickle=False``: no file can run code.
    - ``.csv``: numbers only, one sample a row, the label in the last column; a header row is skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist")
    if path.suffix.lower() == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except Exception as error:  # not a zip, a pickled object array, a truncated member, ...
            raise ValueError(f"{path}: not a readable .npz of plain arrays ({type(error).__name__}: {error})") from None
        x, y = arrays.get("x", arrays.get("features")), arrays.get("y", arrays.get("labels"))
        if x is None or y is None:
            raise ValueError(f"{path} holds {sorted(arrays)}; it needs arrays 'x' (features) and 'y' (labels)")
        test = {"test_features": arrays.get("x_test"), "test_labels": arrays.get("y_test")}
        if test["test_features"] is None:
            test = {}
        return load_arrays(x, y, name=str(path), seed=seed, test_size=test_size, val_fraction=val_fraction,
                           flatten=flatten, **test)  # fmt: skip
    table = _read_csv(path)
    return load_arrays(table[:, :-1], table[:, -1], name=str(path), seed=seed, test_size=test_size,
                       val_fraction=val_fraction)  # fmt: skip


def _read_csv(path: Path) -> np.ndarray:
    with path.open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if rows and not _numeric(rows[0]):
        rows = rows[1:]  # a header
    if len(rows) < 2 or len(rows[0]) < 2:
        raise ValueError(f"{path}: needs at least two rows of one or more features and a label")
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise ValueError(f"{path}: rows have {sorted(widths)} columns; every row needs the same number")
    bad = next((k for k, row in enumerate(rows) if not _numeric(row)), None)
    if bad is not None:
        raise ValueError(f"{path}: row {bad + 1} holds a value that is not a number: {rows[bad][:6]}")
    return np.array(rows, dtype=np.float64)


def _numeric(row: list[str]) -> bool:
    try:
        [float(value) for value in row]
    except ValueError:
        return False
    return True
