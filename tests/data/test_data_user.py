"""One's own data: a .npz or .csv file for `imcpnn train`, arrays for the Python API (issue 15, item 8)."""

import numpy as np
import pytest
import sklearn.datasets

from imcpnn.cli.main import main
from imcpnn.data import load_arrays, load_data_file
from imcpnn.training import TrainConfig, train


def _blobs(n=120, features=3, seed=0):
    x, y = sklearn.datasets.make_blobs(n_samples=n, n_features=features, centers=3, random_state=seed)
    return x * 10.0 + 5.0, np.array(["setosa", "versicolor", "virginica"])[y]


def test_npz_and_csv_give_the_same_splits(tmp_path):
    x, y = _blobs()
    labels = np.searchsorted(np.unique(y), y)
    np.savez(tmp_path / "mine.npz", x=x, y=labels)
    csv = tmp_path / "mine.csv"
    rows = [",".join([*(repr(float(v)) for v in row), str(int(k))]) for row, k in zip(x, labels, strict=True)]
    csv.write_text("a,b,c,label\n" + "\n".join(rows))
    from_npz = load_data_file(tmp_path / "mine.npz", seed=1)
    from_csv = load_data_file(csv, seed=1)
    assert from_npz.encoding == from_csv.encoding == "tabular" and from_npz.num_classes == 3
    for a, b in ((from_npz.train, from_csv.train), (from_npz.test, from_csv.test)):
        np.testing.assert_allclose(a.tensors[0].numpy(), b.tensors[0].numpy(), atol=1e-6)
        assert (a.tensors[1] == b.tensors[1]).all()
    train_x = from_npz.train.tensors[0]
    assert float(train_x.min()) == 0.0 and float(train_x.max()) == 1.0  # scaled with the training split
    assert len(from_npz.test) == 24  # 20 % held out


def test_arrays_with_string_labels_and_images():
    x, y = _blobs()
    splits = load_arrays(x, y, seed=0)
    assert splits.classes == ("setosa", "versicolor", "virginica")
    images = np.random.default_rng(0).integers(0, 256, size=(40, 6, 6), dtype=np.uint8)
    image_splits = load_arrays(images, np.arange(40) % 2, test_size=10)
    assert image_splits.encoding == "image" and image_splits.input_shape == (1, 6, 6)


def test_train_on_a_file_and_on_arrays(tmp_path, capsys):
    x, y = _blobs(features=4)
    np.savez(tmp_path / "mine.npz", x=x, y=np.searchsorted(np.unique(y), y))
    argv = ["train", "--dataset", str(tmp_path / "mine.npz"), "--arch", "5-8-3", "--epochs", "3", "--lr", "0.03"]
    assert main([*argv, "--out", str(tmp_path / "file"), "--no-progress"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    config = TrainConfig.from_flags(dataset="mine", arch="5-8-3", epochs=3, lr=0.03, out=str(tmp_path / "arrays"))
    metrics = train(config, progress=False, log=lambda s: None, data=load_arrays(x, y))
    assert metrics["test_accuracy"] > 0.6


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("1,2,0\n3,4\n", "columns"),
        ("1,2,0\n3,x,1\n", "not a number"),
        ("1,0\n", "at least two rows"),
        ("1,nan,0\n2,3,1\n", "NaN"),
    ],
)
def test_bad_csv_files_are_named(tmp_path, content, match):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        load_data_file(path)


def test_bad_npz_files_are_named(tmp_path):
    np.savez(tmp_path / "keys.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="needs arrays 'x'"):
        load_data_file(tmp_path / "keys.npz")
    np.savez(tmp_path / "objects.npz", x=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    with pytest.raises(ValueError, match=r"not a readable \.npz"):
        load_data_file(tmp_path / "objects.npz")
    with pytest.raises(ValueError, match="one label per sample"):
        load_arrays(np.zeros((4, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="at least 2"):
        load_arrays(np.random.default_rng(0).random((4, 2)), np.zeros(4))
