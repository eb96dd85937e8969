"""The VGG7 path end to end on CPU (issue 11, deliverable 3).

``imcpnn train --dataset fashion-mnist`` and ``--dataset cifar10`` with a VGG7-shaped network (6
convolutions, 3 poolings, 2 dense layers; reduced width) train, checkpoint, resume and evaluate on
small data files written here in the real formats (IDX ``.gz``; CIFAR-10 python batches), so no
machine needs the data sets. The real presets (VGG7 and the double-width VGG7) are built at full
width: their parameter counts match the formula and one training step on a batch of 2 runs.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
import torch

from imcpnn.cli.main import main
from imcpnn.experiments.presets import PRESETS, VGG7, VGG7_DOUBLE
from imcpnn.layers import build_network, parse_arch
from imcpnn.training.checkpoint import load_checkpoint
from imcpnn.training.presets import DATASET_PRESETS

SMALL_VGG7 = "C4-C4-P-C8-C8-P-C8-C8-P-16-10"  # the VGG7 shape at a width the test can train in seconds
INPUTS = {"fashion-mnist": "1x28x28", "cifar10": "3x32x32"}


def _data_writers() -> ModuleType:
    """The writers of tiny data files in ``tests/data/conftest.py`` (its fixtures reach only ``tests/data``)."""
    path = Path(__file__).resolve().parents[1] / "data" / "conftest.py"
    spec = importlib.util.spec_from_file_location("imcpnn_test_data_writers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _data_dir(dataset: str, folder: Path) -> Path:
    """80 training and 16 test samples of ``dataset`` in its original file format."""
    writers = _data_writers()
    if dataset == "fashion-mnist":
        writers.write_fashion_mnist(folder / "fashion-mnist", n_train=80, n_test=16)
        return folder / "fashion-mnist"
    return writers.write_cifar_py(folder / "cifar-10-batches-py", writers.cifar_arrays(n_per_batch=16))


def _train_argv(dataset: str, data_dir: Path, out: Path, epochs: int, *extra: str) -> list[str]:
    return [
        "train", "--dataset", dataset, "--data-dir", str(data_dir), "--arch", f"{INPUTS[dataset]}:{SMALL_VGG7}",
        "--max-train-samples", "64", "--epochs", str(epochs), "--seed", "1", "--out", str(out), "--no-progress",
        *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("dataset", ["fashion-mnist", "cifar10"])
def test_vgg7_shape_trains_checkpoints_resumes_and_evaluates(tmp_path, capsys, dataset):
    data_dir = _data_dir(dataset, tmp_path / "data")
    out = tmp_path / "run"
    extra = ("--augment",) if dataset == "cifar10" else ()

    assert main(_train_argv(dataset, data_dir, out, 1, *extra)) == 0
    assert "test accuracy" in capsys.readouterr().out
    for name in ("best.pt", "last.pt", "metrics.json", "history.csv"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 1 and 0 <= metrics["test_accuracy"] <= 1
    assert metrics["config"]["arch"] == f"{INPUTS[dataset]}:{SMALL_VGG7}"
    assert metrics["config"]["dataset"] == dataset and metrics["config"]["augment"] is (dataset == "cifar10")
    first = load_checkpoint(out / "last.pt")
    assert first["epoch"] == 1 and len(first["history"]) == 1

    # A second run into the same folder without --resume is refused and changes nothing.
    before = (out / "last.pt").read_bytes()
    assert main(_train_argv(dataset, data_dir, out, 2, *extra)) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--resume" in err and "Traceback" not in err
    assert (out / "last.pt").read_bytes() == before

    assert main([*_train_argv(dataset, data_dir, out, 2, *extra), "--resume"]) == 0
    resumed = load_checkpoint(out / "last.pt")
    assert resumed["epoch"] == 2 and len(resumed["history"]) == 2
    assert resumed["history"][0] == first["history"][0]
    assert any(not torch.equal(resumed["model"][k], first["model"][k]) for k in first["model"])
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 2
    assert (out / "history.csv").read_text().count("\n") == 3  # header and two epochs
    metrics = json.loads((out / "metrics.json").read_text())

    report = tmp_path / "eval.json"
    assert main(["eval", str(out / "best.pt"), "--data-dir", str(data_dir), "--json", str(report)]) == 0
    assert "test accuracy" in capsys.readouterr().out
    evaluated = json.loads(report.read_text())
    # The same model, data split, settings and noise seed as the trainer's final evaluation.
    assert evaluated["test_accuracy"] == metrics["test_accuracy"]


def test_cifar10_augmentation_changes_what_is_trained(tmp_path):
    data_dir = _data_dir("cifar10", tmp_path / "data")
    weights = {}
    for flag in ("--augment", "--no-augment"):
        out = tmp_path / flag.strip("-")
        assert main(_train_argv("cifar10", data_dir, out, 1, flag)) == 0
        weights[flag] = load_checkpoint(out / "last.pt")["model"]
    assert json.loads((tmp_path / "no-augment" / "metrics.json").read_text())["config"]["augment"] is False
    assert any(not torch.equal(weights["--augment"][k], weights["--no-augment"][k]) for k in weights["--augment"])


def _doubled(arch: str) -> str:
    """Every hidden width of an architecture string doubled (the output layer kept)."""
    tokens = arch.split("-")
    hidden = [t if t == "P" else (f"C{2 * int(t[1:])}" if t.startswith("C") else str(2 * int(t))) for t in tokens[:-1]]
    return "-".join([*hidden, tokens[-1]])


REAL_PRESETS = {
    "fmnist-vgg7": f"1x28x28:{VGG7}",
    "cifar10-vgg7": f"3x32x32:{VGG7}",
    "cifar10-vgg7x2": f"3x32x32:{VGG7_DOUBLE}",
}


def test_the_presets_are_vgg7_and_its_double_width():
    assert VGG7 == "C64-C64-P-C128-C128-P-C256-C256-P-512-10"
    assert _doubled(VGG7) == VGG7_DOUBLE
    for name, arch in REAL_PRESETS.items():
        (workload,) = PRESETS[name].workloads
        assert workload.arch == arch and workload.model == "rcspike"
        _, layers = parse_arch(arch)
        kinds = [kind for kind, _ in layers]
        assert kinds.count("conv") == 6 and kinds.count("pool") == 3 and kinds[-2:] == ["dense", "dense"]
    assert DATASET_PRESETS[("cifar10", "rcspike")].arch == f"3x32x32:{VGG7}"
    assert DATASET_PRESETS[("cifar10", "rcspike")].augment is True
    _, small = parse_arch(f"1x28x28:{SMALL_VGG7}")
    assert [kind for kind, _ in small] == [kind for kind, _ in parse_arch(f"1x28x28:{VGG7}")[1]]


def _parameter_formula(arch: str) -> int:
    """Σ 9 C_in C_out over the 3x3 convolutions plus Σ N_in N_out over the dense layers (no biases)."""
    (channels, height, width), layers = parse_arch(arch)
    total, features = 0, None
    for kind, size in layers:
        if kind == "conv":
            total += 9 * channels * size
            channels = size
        elif kind == "pool":
            height, width = height // 2, width // 2
        else:
            features = channels * height * width if features is None else features
            total += features * size
            features = size
    return total


@pytest.mark.parametrize(
    ("name", "count"), [("fmnist-vgg7", 2_328_128), ("cifar10-vgg7", 3_246_784), ("cifar10-vgg7x2", 12_973_440)]
)
def test_real_width_parameter_count_and_one_training_step(name, count):
    arch = REAL_PRESETS[name]
    net = build_network(arch, family="rcspike", e_rev_pos=2.0, steps=4, eval_steps=30, spike_noise=0.01)
    assert sum(p.numel() for p in net.parameters()) == _parameter_formula(arch) == count
    net.train()
    out = net(torch.rand(2, *net.input_shape))
    assert out.shape == (2, 10) and bool(torch.isfinite(out).all())
    out.sum().backward()
    for layer in net.spiking_layers():  # the gradient reaches every layer, the first convolution included
        grad = layer.weight.grad
        assert grad is not None and bool(torch.isfinite(grad).all()) and float(grad.abs().sum()) > 0
