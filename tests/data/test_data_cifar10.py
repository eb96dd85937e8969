"""CIFAR-10: both official layouts, folder or parent, pixel order, validation errors that name the file."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from imcpnn.data import find_cifar10_files, load_dataset, read_cifar10_py_batch

N_PER_BATCH = 10


@pytest.fixture
def arrays(data_files: SimpleNamespace) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return data_files.cifar_arrays(N_PER_BATCH)


@pytest.fixture
def bin_dir(tmp_path: Path, data_files: SimpleNamespace, arrays: dict) -> Path:
    return data_files.write_cifar_bin(tmp_path / "cifar-10-batches-bin", arrays)


@pytest.fixture
def py_dir(tmp_path: Path, data_files: SimpleNamespace, arrays: dict) -> Path:
    return data_files.write_cifar_py(tmp_path / "cifar-10-batches-py", arrays)


def _check_loaded(splits, arrays: dict) -> None:
    x_test, y_test = splits.test.tensors
    pixels, labels = arrays["test_batch"]
    assert x_test.shape == (N_PER_BATCH, 3, 32, 32) and x_test.dtype == torch.float32
    assert y_test.dtype == torch.int64 and y_test.tolist() == labels.tolist()
    # Record layout: 1024 red, then green, then blue bytes, each plane row-major 32x32.
    expected = torch.from_numpy(pixels.reshape(-1, 3, 32, 32)).float() / 255
    torch.testing.assert_close(x_test, expected)
    assert x_test[0, 1, 2, 3] == pytest.approx(pixels[0, 1024 + 2 * 32 + 3] / 255)
    assert len(splits.train) + len(splits.val) == 5 * N_PER_BATCH
    assert splits.input_shape == (3, 32, 32) and splits.classes[0] == "airplane" and splits.num_classes == 10


@pytest.mark.parametrize("point_at", ["batches", "parent"])
def test_bin_layout(bin_dir: Path, arrays: dict, point_at: str) -> None:
    data_dir = bin_dir if point_at == "batches" else bin_dir.parent
    splits = load_dataset("cifar10", data_dir, seed=0, val_fraction=0.2)
    _check_loaded(splits, arrays)
    assert len(splits.val) == 10 and sorted(splits.val.tensors[1].tolist()) == list(range(10))


@pytest.mark.parametrize("point_at", ["batches", "parent"])
def test_py_layout(py_dir: Path, arrays: dict, point_at: str) -> None:
    data_dir = py_dir if point_at == "batches" else py_dir.parent
    assert find_cifar10_files(data_dir)[0] == "py"
    _check_loaded(load_dataset("cifar-10", data_dir, val_fraction=0.0), arrays)


def test_py_layout_written_by_python3_pickle(tmp_path: Path, data_files: SimpleNamespace, arrays: dict) -> None:
    folder = data_files.write_cifar_py(tmp_path / "py3", arrays, python2_format=False)
    _check_loaded(load_dataset("cifar10", folder, val_fraction=0.0), arrays)


def test_both_layouts_give_identical_tensors(bin_dir: Path, py_dir: Path) -> None:
    from_bin = load_dataset("cifar10", bin_dir, seed=5, flatten=True)
    from_py = load_dataset("cifar10", py_dir, seed=5, flatten=True)
    assert from_bin.train.tensors[0].shape == (45, 3072)
    for a, b in zip(
        (*from_bin.train.tensors, *from_bin.val.tensors),
        (*from_py.train.tensors, *from_py.val.tensors),
        strict=True,
    ):
        assert torch.equal(a, b)


def test_no_batches_anywhere_explains_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as error:
        load_dataset("cifar10", tmp_path)
    message = str(error.value)
    assert str(tmp_path) in message and "cifar-10-batches-bin" in message
    assert "cifar10_from_npm.py" in message and "--data-dir" in message


def test_no_data_dir(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="data_dir"):
        load_dataset("cifar10")


@pytest.mark.parametrize("layout", ["bin", "py"])
def test_missing_batch_is_named(bin_dir: Path, py_dir: Path, layout: str) -> None:
    folder, name = (bin_dir, "test_batch.bin") if layout == "bin" else (py_dir, "test_batch")
    (folder / name).unlink()
    with pytest.raises(FileNotFoundError, match=name) as error:
        load_dataset("cifar10", folder)
    assert str(folder) in str(error.value)


def test_bin_size_not_multiple_of_record(bin_dir: Path) -> None:
    path = bin_dir / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match="3073") as error:
        load_dataset("cifar10", bin_dir)
    assert str(path) in str(error.value)


def test_bin_label_out_of_range(bin_dir: Path) -> None:
    path = bin_dir / "data_batch_2.bin"
    raw = bytearray(path.read_bytes())
    raw[3073 * 4] = 10  # label byte of the fifth record
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="label 10 out of range") as error:
        load_dataset("cifar10", bin_dir)
    assert str(path) in str(error.value)


def _pickle(path: Path, obj: object) -> None:
    with path.open("wb") as stream:
        pickle.dump(obj, stream, protocol=2)


def test_py_label_out_of_range_and_count_mismatch(py_dir: Path, arrays: dict) -> None:
    pixels, labels = arrays["data_batch_1"]
    path = py_dir / "data_batch_1"
    _pickle(path, {b"data": pixels, b"labels": [*labels.tolist()[:-1], 11]})
    with pytest.raises(ValueError, match="label 11 out of range"):
        read_cifar10_py_batch(path)
    _pickle(path, {b"data": pixels, b"labels": labels.tolist()[:-1]})
    with pytest.raises(ValueError, match="counts must match") as error:
        load_dataset("cifar10", py_dir)
    assert str(path) in str(error.value)


def test_py_wrong_pixel_shape(py_dir: Path) -> None:
    path = py_dir / "test_batch"
    _pickle(path, {b"data": np.zeros((2, 3071), np.uint8), b"labels": [0, 1]})
    with pytest.raises(ValueError, match="expected uint8"):
        read_cifar10_py_batch(path)


def test_py_truncated_pickle(py_dir: Path) -> None:
    path = py_dir / "data_batch_4"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ValueError, match="not a readable CIFAR-10 python batch") as error:
        load_dataset("cifar10", py_dir)
    assert str(path) in str(error.value)


class _RunsCode:
    def __reduce__(self) -> tuple:
        return (os.getcwd, ())


def test_py_pickle_cannot_run_code(py_dir: Path) -> None:
    path = py_dir / "test_batch"
    _pickle(path, {b"data": _RunsCode(), b"labels": []})
    with pytest.raises(ValueError, match="is not allowed") as error:
        read_cifar10_py_batch(path)
    assert str(path) in str(error.value)
