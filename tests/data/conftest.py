"""Writers of tiny data files in the exact original formats (IDX, CIFAR-10 bin and python pickles).

Tests reach them through the ``data_files`` fixture (no import of this module, whatever the
pytest import mode).
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

FASHION_STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """IDX encoding: big-endian magic, big-endian dimension sizes, then the uint8 data."""
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx(path: Path, array: np.ndarray, magic: int, compress: bool) -> Path:
    data = idx_bytes(array, magic)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def write_fashion_mnist(
    folder: Path, n_train: int = 40, n_test: int = 10, compress: bool = True, seed: int = 0
) -> dict[str, np.ndarray]:
    """Four IDX files (``.gz`` when ``compress``) with random pixels and labels cycling 0..9."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 10).astype(np.uint8),
    }
    suffix = ".gz" if compress else ""
    for key, array in arrays.items():
        magic = 2051 if key.endswith("images") else 2049
        write_idx(folder / f"{FASHION_STEMS[key]}{suffix}", array, magic, compress)
    return arrays


def cifar_arrays(n_per_batch: int = 10, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per batch: uint8 pixel rows ``[n, 3072]`` and labels cycling 0..9 (all classes in every batch)."""
    rng = np.random.default_rng(seed)
    return {
        name: (
            rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8),
            ((np.arange(n_per_batch) + i) % 10).astype(np.uint8),
        )
        for i, name in enumerate(CIFAR_BATCHES)
    }


def write_cifar_bin(folder: Path, arrays: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    """``<name>.bin`` files of 3073-byte records: label byte, then 3072 pixel bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, (pixels, labels) in arrays.items():
        records = np.concatenate([labels[:, None], pixels], axis=1)
        (folder / f"{name}.bin").write_bytes(records.tobytes())
    return folder


def _py2_str(data: bytes) -> bytes:
    """A Python 2 ``str`` (SHORT_BINSTRING or BINSTRING opcode): what ``encoding="bytes"`` reads as bytes."""
    if len(data) < 256:
        return b"U" + bytes([len(data)]) + data
    return b"T" + struct.pack("<i", len(data)) + data


def _py2_int(value: int) -> bytes:
    return b"K" + bytes([value]) if 0 <= value < 256 else b"J" + struct.pack("<i", value)


def _py2_global(module: bytes, name: bytes) -> bytes:
    return b"c" + module + b"\n" + name + b"\n"


def _py2_uint8_array(array: np.ndarray) -> bytes:
    """Opcodes numpy 1.x under Python 2 wrote for a uint8 array (``numpy.core.multiarray._reconstruct``)."""
    dtype = (
        _py2_global(b"numpy", b"dtype") + _py2_str(b"u1") + _py2_int(0) + _py2_int(1) + b"\x87R"
        + b"(" + _py2_int(3) + _py2_str(b"|") + b"NNN" + _py2_int(-1) + _py2_int(-1) + _py2_int(0) + b"tb"
    )  # fmt: skip
    shape = b"(" + b"".join(_py2_int(d) for d in array.shape) + b"t"
    return (
        _py2_global(b"numpy.core.multiarray", b"_reconstruct") + _py2_global(b"numpy", b"ndarray")
        + _py2_int(0) + b"\x85" + _py2_str(b"b") + b"\x87R"
        + b"(" + _py2_int(1) + shape + dtype + b"\x89" + _py2_str(array.tobytes()) + b"tb"
    )  # fmt: skip


def py2_cifar_batch(pixels: np.ndarray, labels: np.ndarray, batch_label: bytes) -> bytes:
    """A batch pickled as the official files are (Python 2 cPickle, protocol 2, str keys)."""
    label_list = b"](" + b"".join(_py2_int(int(v)) for v in labels) + b"e"
    return (
        b"\x80\x02}(" + _py2_str(b"batch_label") + _py2_str(batch_label)
        + _py2_str(b"labels") + label_list + _py2_str(b"data") + _py2_uint8_array(pixels) + b"u."
    )  # fmt: skip


def write_cifar_py(folder: Path, arrays: dict[str, tuple[np.ndarray, np.ndarray]], python2_format: bool = True) -> Path:
    """Pickled dicts as in cifar-10-batches-py: by default in the Python 2 form of the official files
    (``str`` keys, ``numpy.core.multiarray._reconstruct``); ``python2_format=False``: Python 3 pickle."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, (pixels, labels) in arrays.items():
        path = folder / name
        if python2_format:
            path.write_bytes(py2_cifar_batch(pixels, labels, name.encode()))
            continue
        batch = {
            b"batch_label": name.encode(),
            b"labels": [int(v) for v in labels],
            b"data": pixels,
            b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))],
        }
        with path.open("wb") as stream:
            pickle.dump(batch, stream, protocol=2)
    return folder


@pytest.fixture
def fashion_dir(tmp_path: Path) -> Path:
    """A folder with tiny gzip-compressed Fashion-MNIST IDX files (40 train, 10 test)."""
    folder = tmp_path / "fashion-mnist"
    write_fashion_mnist(folder)
    return folder


@pytest.fixture
def data_files() -> SimpleNamespace:
    """The writers and constants of this module."""
    return SimpleNamespace(
        FASHION_STEMS=FASHION_STEMS,
        CIFAR_BATCHES=CIFAR_BATCHES,
        idx_bytes=idx_bytes,
        write_idx=write_idx,
        write_fashion_mnist=write_fashion_mnist,
        cifar_arrays=cifar_arrays,
        write_cifar_bin=write_cifar_bin,
        write_cifar_py=write_cifar_py,
    )
