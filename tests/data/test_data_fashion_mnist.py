"""Fashion-MNIST: IDX parsing, folder search, validation errors that name the file."""

from __future__ import annotations

import gzip
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from imcpnn.data import DEFAULT_FASHION_MNIST_DIR, load_dataset, read_idx
from imcpnn.data import fashion_mnist as fashion_module

# The four files the Debian package dataset-fashion-mnist ships (`dpkg -c`, bookworm 0.0~git20200523).
DEBIAN_PACKAGE_FILES = {
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
}


def test_default_folder_and_names_match_debian_package() -> None:
    assert Path("/usr/share/datasets/fashion-mnist") == DEFAULT_FASHION_MNIST_DIR
    assert {f"{stem}.gz" for stem in fashion_module.FASHION_MNIST_FILES.values()} == DEBIAN_PACKAGE_FILES


@pytest.mark.parametrize("compress", [True, False])
def test_loads_values_shapes_and_splits(data_files: SimpleNamespace, tmp_path: Path, compress: bool) -> None:
    arrays = data_files.write_fashion_mnist(tmp_path, n_train=40, n_test=10, compress=compress)
    splits = load_dataset("fashion-mnist", tmp_path, seed=3, val_fraction=0.25)
    x_test, y_test = splits.test.tensors
    assert x_test.dtype == torch.float32 and y_test.dtype == torch.int64
    assert x_test.shape == (10, 1, 28, 28) and splits.input_shape == (1, 28, 28)
    torch.testing.assert_close(x_test[:, 0], torch.from_numpy(arrays["test_images"]).float() / 255)
    assert y_test.tolist() == arrays["test_labels"].tolist()
    assert (len(splits.train), len(splits.val)) == (30, 10)
    assert sorted(splits.val.tensors[1].tolist()) == list(range(10))  # stratified: one per class
    assert splits.num_classes == 10 and len(splits.classes) == 10
    x_train = splits.train.tensors[0]
    assert 0.0 <= float(x_train.min()) and float(x_train.max()) <= 1.0


def test_flatten_and_parent_folder(data_files: SimpleNamespace, tmp_path: Path) -> None:
    data_files.write_fashion_mnist(tmp_path / "fashion-mnist", n_train=20, n_test=5)
    splits = load_dataset("fashion_mnist", tmp_path, flatten=True, val_fraction=0.0)
    assert splits.train.tensors[0].shape == (20, 784) and splits.input_shape == (784,)
    assert len(splits.val) == 0 and splits.val.tensors[0].shape == (0, 784)


def test_default_folder_used_without_data_dir(
    data_files: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_files.write_fashion_mnist(tmp_path, n_train=20, n_test=5)
    monkeypatch.setattr(fashion_module, "DEFAULT_FASHION_MNIST_DIR", tmp_path)
    assert len(load_dataset("fashion-mnist").test) == 5


def test_missing_default_folder_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fashion_module, "DEFAULT_FASHION_MNIST_DIR", tmp_path / "absent")
    with pytest.raises(FileNotFoundError) as error:
        load_dataset("fashion-mnist")
    message = str(error.value)
    assert "train-images-idx3-ubyte.gz" in message and str(tmp_path / "absent") in message
    assert "apt-get install dataset-fashion-mnist" in message and "--data-dir" in message


def test_missing_single_file_is_named(fashion_dir: Path) -> None:
    (fashion_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte\.gz") as error:
        load_dataset("fashion-mnist", fashion_dir)
    assert str(fashion_dir) in str(error.value)


def test_wrong_magic_number(data_files: SimpleNamespace, fashion_dir: Path) -> None:
    path = fashion_dir / "train-labels-idx1-ubyte.gz"
    data_files.write_idx(path, np.zeros((40, 28, 28), np.uint8), magic=2051, compress=True)  # images where labels go
    with pytest.raises(ValueError, match="magic number 2051") as error:
        load_dataset("fashion-mnist", fashion_dir)
    assert str(path) in str(error.value) and "2049" in str(error.value)


def test_truncated_gzip(fashion_dir: Path) -> None:
    path = fashion_dir / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz"):
        load_dataset("fashion-mnist", fashion_dir)


def test_truncated_data_after_header(data_files: SimpleNamespace, fashion_dir: Path) -> None:
    path = fashion_dir / "train-images-idx3-ubyte.gz"
    data = data_files.idx_bytes(np.zeros((40, 28, 28), np.uint8), 2051)[:-100]
    path.write_bytes(gzip.compress(data))
    with pytest.raises(ValueError, match="truncated") as error:
        load_dataset("fashion-mnist", fashion_dir)
    assert str(path) in str(error.value)


def test_count_mismatch_names_both_files(data_files: SimpleNamespace, fashion_dir: Path) -> None:
    data_files.write_idx(fashion_dir / "train-labels-idx1-ubyte.gz", np.zeros(39, np.uint8), 2049, compress=True)
    with pytest.raises(ValueError, match="must match") as error:
        load_dataset("fashion-mnist", fashion_dir)
    assert "train-images-idx3-ubyte.gz" in str(error.value) and "train-labels-idx1-ubyte.gz" in str(error.value)


def test_label_out_of_range(data_files: SimpleNamespace, fashion_dir: Path) -> None:
    labels = np.full(10, 10, np.uint8)
    data_files.write_idx(fashion_dir / "t10k-labels-idx1-ubyte.gz", labels, 2049, compress=True)
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz: label 10 out of range"):
        load_dataset("fashion-mnist", fashion_dir)


def test_wrong_image_size(data_files: SimpleNamespace, fashion_dir: Path) -> None:
    data_files.write_idx(fashion_dir / "t10k-images-idx3-ubyte.gz", np.zeros((10, 27, 28), np.uint8), 2051, True)
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz: images of shape \(27, 28\)"):
        load_dataset("fashion-mnist", fashion_dir)


def test_read_idx_roundtrip(data_files: SimpleNamespace, tmp_path: Path) -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = data_files.write_idx(tmp_path / "x-idx3-ubyte", array, 2051, compress=False)
    np.testing.assert_array_equal(read_idx(path, 2051), array)


def test_test_size_rejected_for_official_split(fashion_dir: Path) -> None:
    with pytest.raises(ValueError, match="official test split"):
        load_dataset("fashion-mnist", fashion_dir, test_size=0.2)


def test_stem_table_matches_module(data_files: SimpleNamespace) -> None:
    assert fashion_module.FASHION_MNIST_FILES == data_files.FASHION_STEMS
