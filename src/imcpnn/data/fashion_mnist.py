"""Fashion-MNIST from its original IDX files, parsed with numpy (never downloaded at run time).

The IDX format (big-endian): a 4-byte magic number ``0x0000TTNN`` (``TT = 0x08``: unsigned
bytes, ``NN``: number of dimensions), ``NN`` 4-byte dimension sizes, then the data in C order.
Images: magic 2051 (``0x00000803``), ``[N, 28, 28]``; labels: magic 2049 (``0x00000801``), ``[N]``.
Each file may be gzip-compressed (``.gz``, as distributed) or not.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049
FASHION_MNIST_IMAGE_SIZE = (28, 28)
FASHION_MNIST_NUM_CLASSES = 10
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

# Where the Debian/Ubuntu package dataset-fashion-mnist installs the four .gz files.
DEFAULT_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

# Logical file -> stem of its official name (the package ships "<stem>.gz").
FASHION_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

FASHION_MNIST_HOW_TO_GET = (
    "To get the files: `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu; installs them in "
    f"{DEFAULT_FASHION_MNIST_DIR}/), or copy the four IDX files (train-images-idx3-ubyte.gz, "
    "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, from "
    "https://github.com/zalandoresearch/fashion-mnist) into a folder and pass it as data_dir "
    "(command line: --data-dir)."
)

_GZIP_SIGNATURE = b"\x1f\x8b"


def _file_name_variants(stem: str) -> list[str]:
    """Accepted names of one IDX file: gzip or not, ``-idx3-`` or ``.idx3-`` spelling."""
    dotted = stem.replace("-idx", ".idx")
    return [f"{stem}.gz", stem, f"{dotted}.gz", dotted]


def _candidate_folders(data_dir: Path | None) -> list[Path]:
    """Folders searched, in order: the given one, its ``fashion-mnist/`` and ``FashionMNIST/raw/``."""
    if data_dir is None:
        return [DEFAULT_FASHION_MNIST_DIR]
    return [data_dir, data_dir / "fashion-mnist", data_dir / "FashionMNIST" / "raw"]


def _find_file(folder: Path, stem: str) -> Path | None:
    for name in _file_name_variants(stem):
        path = folder / name
        if path.is_file():
            return path
    return None


def find_fashion_mnist_files(data_dir: str | Path | None = None) -> dict[str, Path]:
    """Locate the four Fashion-MNIST IDX files.

    ``data_dir=None`` means :data:`DEFAULT_FASHION_MNIST_DIR`. Raises :class:`FileNotFoundError`
    naming the first missing file, the folders searched and how to get the data.
    """
    folders = _candidate_folders(None if data_dir is None else Path(data_dir))
    train_stem = FASHION_MNIST_FILES["train_images"]
    folder = next((f for f in folders if _find_file(f, train_stem) is not None), folders[0])
    found: dict[str, Path] = {}
    for key, stem in FASHION_MNIST_FILES.items():
        path = _find_file(folder, stem)
        if path is None:
            where = folder if folder.is_dir() else f"{folder} (folder does not exist)"
            searched = ", ".join(str(f) for f in folders)
            raise FileNotFoundError(
                f"Fashion-MNIST file {stem}.gz (or uncompressed {stem}) not found in {where}; "
                f"folders searched: {searched}. {FASHION_MNIST_HOW_TO_GET}"
            )
        found[key] = path
    return found


def _read_maybe_gzip(path: Path) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip signature (whatever its name)."""
    raw = path.read_bytes()
    if not raw.startswith(_GZIP_SIGNATURE):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:
        raise ValueError(f"{path}: corrupt or truncated gzip file ({error}). {FASHION_MNIST_HOW_TO_GET}") from error


def read_idx(path: str | Path, expected_magic: int) -> np.ndarray:
    """Parse one IDX file of unsigned bytes into a read-only uint8 array of its dimensions.

    Checks the magic number (2051 images, 2049 labels) and that the file holds exactly the
    number of bytes its header announces; raises :class:`ValueError` naming the file otherwise.
    """
    path = Path(path)
    raw = _read_maybe_gzip(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: {len(raw)} bytes, too short for an IDX header. {FASHION_MNIST_HOW_TO_GET}")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise ValueError(
            f"{path}: IDX magic number {magic} (0x{magic:08x}), expected {expected_magic} "
            f"(0x{expected_magic:08x}); wrong or corrupt file. {FASHION_MNIST_HOW_TO_GET}"
        )
    num_dims = raw[3]
    header_bytes = 4 + 4 * num_dims
    if len(raw) < header_bytes:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes). {FASHION_MNIST_HOW_TO_GET}")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=num_dims, offset=4))
    expected_bytes = header_bytes + math.prod(dims)
    if len(raw) != expected_bytes:
        problem = "truncated" if len(raw) < expected_bytes else "has trailing bytes"
        raise ValueError(
            f"{path}: IDX file {problem}: header announces dimensions {dims} ({expected_bytes} bytes), "
            f"file has {len(raw)} bytes. {FASHION_MNIST_HOW_TO_GET}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_bytes).reshape(dims)


def _read_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path, IDX_IMAGES_MAGIC)
    labels = read_idx(labels_path, IDX_LABELS_MAGIC)
    if images.ndim != 3 or images.shape[1:] != FASHION_MNIST_IMAGE_SIZE:
        raise ValueError(
            f"{images_path}: images of shape {images.shape[1:]}, expected {FASHION_MNIST_IMAGE_SIZE}. "
            f"{FASHION_MNIST_HOW_TO_GET}"
        )
    if labels.ndim != 1:
        raise ValueError(f"{labels_path}: labels with {labels.ndim} dimensions, expected 1.")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds {labels.shape[0]} labels; "
            f"the counts must match. {FASHION_MNIST_HOW_TO_GET}"
        )
    if labels.size and int(labels.max()) >= FASHION_MNIST_NUM_CLASSES:
        raise ValueError(
            f"{labels_path}: label {int(labels.max())} out of range 0..{FASHION_MNIST_NUM_CLASSES - 1}. "
            f"{FASHION_MNIST_HOW_TO_GET}"
        )
    return images, labels.astype(np.int64)


def read_fashion_mnist(
    data_dir: str | Path | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Raw official splits: ``(train_images, train_labels, test_images, test_labels)``.

    Images are uint8 ``[N, 28, 28]`` (0 = black), labels int64 ``[N]`` in 0..9.
    """
    files = find_fashion_mnist_files(data_dir)
    train_images, train_labels = _read_split(files["train_images"], files["train_labels"])
    test_images, test_labels = _read_split(files["test_images"], files["test_labels"])
    return train_images, train_labels, test_images, test_labels
