"""Trained runs reused from their folder: the one training cache of the experiments and the circuit flow.

A run's folder is its config's ``out``. A folder with ``metrics.json`` and ``best.pt`` is finished and
reused; one with only ``last.pt`` was interrupted and is resumed (:func:`imcpnn.training.train` with
``resume=True``, which refuses a checkpoint trained with other settings); anything else is trained.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import TrainConfig
from .evaluate import describe_evaluation
from .trainer import train


@dataclass(frozen=True)
class TrainedRun:
    """A finished run: its folder (``best.pt``, ``metrics.json``, ...) and its metrics."""

    directory: Path
    metrics: dict[str, Any]

    @property
    def checkpoint(self) -> Path:
        return self.directory / "best.pt"

    @property
    def test_accuracy(self) -> float:
        return float(self.metrics["test_accuracy"])


def finished_run(folder: Path | str) -> TrainedRun | None:
    """The finished run in ``folder``, or ``None`` when it has none."""
    folder = Path(folder)
    metrics = folder / "metrics.json"
    if metrics.is_file() and (folder / "best.pt").is_file():
        return TrainedRun(folder, json.loads(metrics.read_text()))
    return None


def train_or_reuse(
    config: TrainConfig,
    *,
    progress: bool = False,
    log: Callable[[str], None] = print,
    name: str | None = None,
    log_epochs: bool = False,
) -> tuple[TrainedRun, bool]:
    """The finished run of ``config`` (in ``config.out``) and whether it was trained (or resumed) now.

    ``log_epochs``: also log the trainer's line per epoch (loss, accuracies, seconds), indented."""
    folder = Path(config.out)
    done = finished_run(folder)
    if done is not None:
        return done, False
    resume = (folder / "last.pt").is_file()
    label = name or f"{config.data.dataset} {config.neuron.family} {config.arch}"
    log(f"  {'resuming' if resume else 'training'} {label} ({config.optimiser.epochs} epochs) -> {folder}")
    started = time.perf_counter()
    epoch_log = (lambda line: log(f"      {line}")) if log_epochs else (lambda _: None)
    metrics = train(config, resume=resume, progress=progress, log=epoch_log)
    measured = f" ({describe_evaluation(metrics['evaluated_with'])})" if "evaluated_with" in metrics else ""
    log(f"    test accuracy {metrics['test_accuracy']:.4f}{measured}  ({time.perf_counter() - started:.1f} s)")
    return TrainedRun(folder, metrics), True
