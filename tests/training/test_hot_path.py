"""The training step reads no device value back: no host-device sync on the hot path (issue 11).

A sync is a read of a device tensor's value on the host (``.item()``, ``float()``, ``int()``, ``bool()``,
``.tolist()``, an ``if`` on a tensor): on a GPU each one waits for the device's queue to drain. On the
CPU such reads cost nothing, so here the epoch runs on PyTorch's ``meta`` device instead: its tensors
have shapes and dtypes but no values, and every one of those reads raises there. CPU tensors (the
DSTD offset drawn from the CPU generator, Adam's step counter) still read freely: they cost no sync
on a GPU either. :func:`test_the_harness_catches_every_kind_of_sync` puts the reads the trainer used
to make back into the step and checks that they are caught, so this harness can fail.
"""

from __future__ import annotations

import io
import math
import subprocess
import sys

import pytest
import torch

from imcpnn.data import load_arrays, make_loader
from imcpnn.training import TrainConfig, build_model, train
from imcpnn.training import trainer as trainer_module
from imcpnn.training.trainer import SYNC_EVERY, EpochTotals, train_one_epoch

META = torch.device("meta")
BATCH = 16


@pytest.fixture
def splits():
    """120 random 8x8 "images" of 3 classes (96 train, 24 test, no validation)."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(120, 1, 8, 8, generator=generator)
    labels = torch.arange(120) % 3
    return load_arrays(images, labels, val_fraction=0.0)


def _config(tmp_path, **flags):
    base = {"dataset": "digits", "arch": "64-12-3", "epochs": 1, "batch_size": BATCH, "seed": 0}
    return TrainConfig.from_flags(**{**base, **flags, "out": str(tmp_path / "run")})


def _epoch(config, splits, device, *, progress=False, model=None):
    """One epoch of ``train_one_epoch`` on ``device``; returns the model and its :class:`EpochTotals`."""
    torch.manual_seed(config.seed)
    model = (model or build_model(config)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.optimiser.lr)
    loader = make_loader(splits.train, config.data.batch_size, seed=config.seed)
    generator = torch.Generator().manual_seed(1)
    totals = train_one_epoch(config, model, model, splits, loader, optimizer, device, generator, "epoch 1/1", progress)
    return model, totals


class _Terminal(io.StringIO):
    """A stand-in for stderr that says it is a terminal, so that the progress bar is drawn."""

    def isatty(self) -> bool:
        return True


CASES = {
    "rcspike dense": {},
    "rcspike conv": {"arch": "1x8x8:C4-P-3"},
    "rcspike dense, clipped, all loss terms": {
        "grad_clip": 1.0, "gamma_temporal": 0.1, "weight_l2": 1e-3, "early_spike_penalty": 1e-3,
    },
    "ttfs dense, firing regulariser": {"model": "ttfs", "steps": 20, "gamma_q": 1e-3},
    "ttfs conv": {"model": "ttfs", "arch": "1x8x8:C4-P-3", "steps": 20},
}  # fmt: skip


@pytest.mark.parametrize("flags", CASES.values(), ids=CASES.keys())
def test_an_epoch_reads_no_device_value(tmp_path, splits, monkeypatch, flags):
    config = _config(tmp_path, **flags)
    steps = math.ceil(len(splits.train) / BATCH)
    assert 1 < steps < SYNC_EVERY, "the epoch must end before the periodic read"
    monkeypatch.setattr(sys, "stderr", _Terminal())  # the progress bar is drawn, and must not read either
    model, totals = _epoch(config, splits, META, progress=True)
    assert totals.steps == steps and totals.seen == len(splits.train)
    assert totals.loss_sum.device == META and totals.correct.device == META  # summed on the device
    assert all(p.device == META for p in model.parameters())
    with pytest.raises(RuntimeError, match="meta"):  # reading them is the once-per-epoch sync
        totals.values()


SYNCS = {
    "float(loss)": lambda loss, class_times, y: float(loss),
    "loss.item()": lambda loss, class_times, y: loss.item(),
    "if not torch.isfinite(loss)": lambda loss, class_times, y: bool(torch.isfinite(loss)),
    "int(correct)": lambda loss, class_times, y: int((class_times.argmin(1) == y).sum()),
    "tolist()": lambda loss, class_times, y: class_times.tolist(),
}


@pytest.mark.parametrize("read", SYNCS.values(), ids=SYNCS.keys())
def test_the_harness_catches_every_kind_of_sync(tmp_path, splits, monkeypatch, read):
    real = trainer_module.compute_loss

    def syncing_compute_loss(config, model, spike_times, labels, num_classes):
        loss, class_times = real(config, model, spike_times, labels, num_classes)
        read(loss, class_times, labels)
        return loss, class_times

    monkeypatch.setattr(trainer_module, "compute_loss", syncing_compute_loss)
    with pytest.raises(RuntimeError, match="meta"):
        _epoch(_config(tmp_path), splits, META)


def test_device_totals_equal_the_per_step_figures(tmp_path, splits, monkeypatch):
    """What the device sums hold is what reading every step would have given."""
    real = trainer_module.compute_loss
    per_step = []

    def recording_compute_loss(config, model, spike_times, labels, num_classes):
        loss, class_times = real(config, model, spike_times, labels, num_classes)
        correct = int((class_times.argmin(1) == labels).sum())
        per_step.append((float(loss) * len(labels), correct, len(labels)))
        return loss, class_times

    monkeypatch.setattr(trainer_module, "compute_loss", recording_compute_loss)
    _, totals = _epoch(_config(tmp_path), splits, torch.device("cpu"))
    loss_sum, correct, seen = totals.values()
    assert len(per_step) == totals.steps
    assert loss_sum == pytest.approx(sum(s[0] for s in per_step), rel=1e-6)
    assert correct == sum(s[1] for s in per_step) and seen == sum(s[2] for s in per_step) == len(splits.train)


def _nan_model(config):
    model = build_model(config)
    with torch.no_grad():
        next(model.spiking_layers()).weight.fill_(math.nan)
    return model


def test_a_nonfinite_loss_is_reported_at_the_epochs_end(tmp_path, splits):
    config = _config(tmp_path)
    _, totals = _epoch(config, splits, torch.device("cpu"), model=_nan_model(config))
    with pytest.raises(RuntimeError, match=r"the loss became nan at step 1 of epoch 1/1.*last\.pt"):
        totals.check("epoch 1/1", config.out)


def test_a_nonfinite_loss_stops_the_epoch_within_sync_every_steps(tmp_path, splits, monkeypatch):
    monkeypatch.setattr(trainer_module, "SYNC_EVERY", 3)
    steps = []
    real_add = EpochTotals.add

    def counting_add(self, loss, class_times, labels):
        steps.append(self.steps)
        real_add(self, loss, class_times, labels)

    monkeypatch.setattr(EpochTotals, "add", counting_add)
    config = _config(tmp_path)
    with pytest.raises(RuntimeError, match="the loss became nan at step 1"):
        _epoch(config, splits, torch.device("cpu"), model=_nan_model(config))
    assert len(steps) == 3 < math.ceil(len(splits.train) / BATCH)


def test_train_raises_before_saving_a_nonfinite_epoch(tmp_path, splits, monkeypatch):
    monkeypatch.setattr(trainer_module, "build_model", _nan_model)
    config = _config(tmp_path)
    with pytest.raises(RuntimeError, match=r"the loss became nan .*run/last\.pt"):
        train(config, progress=False, log=lambda line: None, data=splits)
    assert not (tmp_path / "run" / "last.pt").exists() and not (tmp_path / "run" / "metrics.json").exists()


# The trainer's other additions for GPU runs: a wall-clock budget and the evaluation settings in metrics.json.


def test_a_time_budget_stops_after_the_epoch_that_fits_and_resume_goes_on(tmp_path, splits):
    config = _config(tmp_path, epochs=3)
    lines = []
    metrics = train(config, progress=False, log=lines.append, data=splits, time_budget=1e-3)
    assert metrics["epochs_trained"] == 1 and metrics["epochs"] == 3
    assert any(line.startswith("stopping after epoch 1/3") for line in lines), lines
    resumed = train(config, resume=True, progress=False, log=lambda line: None, data=splits)
    assert resumed["epochs_trained"] == 3


@pytest.mark.parametrize("budget", [0, -5.0, True, "60"])
def test_a_bad_time_budget_is_refused(tmp_path, splits, budget):
    with pytest.raises(ValueError, match="time_budget must be a number of seconds > 0"):
        train(_config(tmp_path), progress=False, log=lambda line: None, data=splits, time_budget=budget)


def test_metrics_say_what_the_accuracies_were_evaluated_with(tmp_path, splits):
    metrics = train(_config(tmp_path, eval_steps=12, spike_noise=0.02), progress=False, log=lambda s: None, data=splits)
    assert metrics["evaluated_with"] == {"solver": "dstd", "eval_steps": 12, "spike_noise": 0.02}


def test_training_needs_no_tqdm(tmp_path, splits, monkeypatch):
    """A machine without tqdm (a bare GPU image) trains without a progress bar; the import degrades too."""
    code = "import sys; sys.modules['tqdm'] = None; import imcpnn.training.trainer as t; assert t.tqdm is None"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    monkeypatch.setattr(trainer_module, "tqdm", None)
    monkeypatch.setattr(sys, "stderr", _Terminal())
    _, totals = _epoch(_config(tmp_path), splits, torch.device("cpu"), progress=True)
    assert totals.values()[2] == len(splits.train)
