"""Trained models cached under the output folder, their evaluation, and the shared output helpers.

Every training goes through :func:`imcpnn.training.train`. A run lives in
``OUT/models/<workload>/<settings>-<hash>/``; the hash covers every resolved training setting
except the output folder, the device and the data folder, so a changed setting trains a new model
and an unchanged one is reused. A run with ``metrics.json`` is done and skipped; one with only
``last.pt`` (interrupted) is resumed with ``train(..., resume=True)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..atomic import write_csv
from ..data import DataSplits, load_dataset
from ..layers import NeuronConfig, SpikingNetwork
from ..training import TrainConfig, evaluate_accuracy, load_trained_model, scale_search, scaled_weights, train
from ..training.trainer import resolve_device
from .presets import ExperimentPreset, Workload, get_preset

Log = Callable[[str], None]
_NOT_HASHED = ("out", "device", "data_dir")


@dataclass(frozen=True)
class RunSpec:
    """One training run of a workload: reversal potentials (normalised), DSTD steps, offset, seed."""

    workload: Workload
    e_rev_pos: float
    e_rev_neg: float | None
    steps: int
    random_offset: bool
    seed: int

    @property
    def offset(self) -> str:
        return "random" if self.random_offset else "fixed"

    @property
    def label(self) -> str:
        neg = -self.e_rev_pos if self.e_rev_neg is None else self.e_rev_neg
        return f"e{self.e_rev_pos:g}_{neg:g}-m{self.steps}-{self.offset}-s{self.seed}"


@dataclass(frozen=True)
class TrainedRun:
    """A finished run: its folder (``best.pt``, ``metrics.json``, ...) and its metrics."""

    spec: RunSpec
    directory: Path
    metrics: dict[str, Any]

    @property
    def checkpoint(self) -> Path:
        return self.directory / "best.pt"

    @property
    def test_accuracy(self) -> float:
        return float(self.metrics["test_accuracy"])


def train_config(spec: RunSpec, out: Path, device: str = "cpu", data_dir: str | None = None) -> TrainConfig:
    """The resolved :class:`TrainConfig` of a run, with its cache folder as ``out``."""
    workload = spec.workload
    config = TrainConfig(
        dataset=workload.dataset, model=workload.model, arch=workload.arch, e_rev_pos=spec.e_rev_pos,
        e_rev_neg=spec.e_rev_neg, steps=spec.steps, random_offset=spec.random_offset, seed=spec.seed,
        epochs=workload.epochs, device=device, data_dir=data_dir, **workload.train,
    ).resolved()  # fmt: skip
    hashed = {k: v for k, v in dataclasses.asdict(config).items() if k not in _NOT_HASHED}
    digest = hashlib.sha256(json.dumps(hashed, sort_keys=True, default=str).encode()).hexdigest()[:8]
    folder = out / "models" / workload.name / f"{spec.label}-ep{config.epochs}-{digest}"
    return dataclasses.replace(config, out=str(folder))


class RunCache:
    """Trains runs on demand and reuses finished ones (see the module docstring)."""

    def __init__(
        self, out: Path, device: str = "cpu", data_dir: str | None = None, log: Log = print, progress: bool = False
    ) -> None:
        self.out, self.device, self.data_dir, self.log, self.progress = out, device, data_dir, log, progress
        self.trained_now = 0
        self.reused = 0

    def config(self, spec: RunSpec) -> TrainConfig:
        return train_config(spec, self.out, self.device, self.data_dir)

    def get(self, spec: RunSpec) -> TrainedRun:
        """The finished run of ``spec``: read from the cache, resumed, or trained."""
        config = self.config(spec)
        folder = Path(config.out)
        metrics_file = folder / "metrics.json"
        name = f"{spec.workload.name} {spec.label}"
        if metrics_file.is_file() and (folder / "best.pt").is_file():
            self.reused += 1
            return TrainedRun(spec, folder, json.loads(metrics_file.read_text()))
        resume = (folder / "last.pt").is_file()
        self.log(f"  {'resuming' if resume else 'training'} {name} ({config.epochs} epochs) -> {folder}")
        started = time.perf_counter()
        metrics = train(config, resume=resume, progress=self.progress, log=lambda _: None)
        self.trained_now += 1
        self.log(f"    test accuracy {metrics['test_accuracy']:.4f}  ({time.perf_counter() - started:.1f} s)")
        return TrainedRun(spec, folder, metrics)


class Evaluator:
    """Evaluates trained runs under other settings (evaluation ``M``, solver, ``E±``, weight scales).

    Splits are loaded once per (data set, seed); each evaluation starts from the run's own neuron
    settings, so changes never leak from one call to the next. Accuracies use the trainer's
    :func:`~imcpnn.training.evaluate_accuracy` (evaluation mode, spike noise seeded with the run's seed).
    """

    def __init__(self, device: str = "cpu", data_dir: str | None = None) -> None:
        self.device = resolve_device(device)
        self.device_name = device
        self.data_dir = data_dir
        self._splits: dict[tuple[Any, ...], DataSplits] = {}
        self._models: dict[Path, tuple[SpikingNetwork, TrainConfig, NeuronConfig]] = {}

    def splits(self, config: TrainConfig) -> DataSplits:
        key = (config.dataset, config.seed, config.val_fraction, self.data_dir or config.data_dir)
        if key not in self._splits:
            self._splits[key] = load_dataset(
                config.dataset, self.data_dir or config.data_dir, seed=config.seed, val_fraction=config.val_fraction
            )
        return self._splits[key]

    def model(self, run: TrainedRun, **changes: Any) -> tuple[SpikingNetwork, TrainConfig]:
        """The run's best model with its own neuron settings, then ``changes`` (``NeuronConfig`` fields)."""
        if run.checkpoint not in self._models:
            model, config = load_trained_model(run.checkpoint, self.device_name)
            self._models = {run.checkpoint: (model, config, model.config)}  # keep one model in memory
        model, config, original = self._models[run.checkpoint]
        model.set_config(**dataclasses.asdict(original))
        if changes:
            model.set_config(**changes)
        return model, config

    def accuracy(self, run: TrainedRun, **changes: Any) -> float:
        """Test accuracy (in [0, 1]) of the run's best model with neuron settings ``changes``."""
        model, config = self.model(run, **changes)
        splits = self.splits(config)
        return evaluate_accuracy(model, splits.test, splits, self.device, config.seed)

    def scaled_accuracy(
        self, run: TrainedRun, scales: Sequence[float], **changes: Any
    ) -> tuple[float, float, float, str]:
        """The scaled ANN: ``(test accuracy, a+, a-, split searched on)`` with ``(a+, a-)`` searched
        over ``scales`` on the validation split (the training split when there is none)."""
        model, config = self.model(run, **changes)
        splits = self.splits(config)
        search_on = "val" if len(splits.val) else "train"
        (a_pos, a_neg), _ = scale_search(
            model, splits.val if len(splits.val) else splits.train, splits, self.device, scales, config.seed
        )
        with scaled_weights(model, a_pos, a_neg):
            accuracy = evaluate_accuracy(model, splits.test, splits, self.device, config.seed)
        return accuracy, a_pos, a_neg, search_on


def summarise(rows: Iterable[dict[str, Any]], keys: Sequence[str], values: Sequence[str]) -> list[dict[str, Any]]:
    """One row per distinct ``keys``: ``n_seeds`` and ``<value>_mean/_std/_min/_max`` over the rows whose
    value is a number (std: sample standard deviation, 0 for one row; ``None`` when no row has a number)."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    summary = []
    for key, members in groups.items():
        out: dict[str, Any] = dict(zip(keys, key, strict=True))
        out["n_seeds"] = len(members)
        for value in values:
            numbers = [float(m[value]) for m in members if m[value] is not None and not math.isnan(float(m[value]))]
            if not numbers:  # e.g. the weight scales of a flow that has none: empty CSV cells
                out.update({f"{value}_{stat}": None for stat in ("mean", "std", "min", "max")})
                continue
            out[f"{value}_mean"] = statistics.fmean(numbers)
            out[f"{value}_std"] = statistics.stdev(numbers) if len(numbers) > 1 else 0.0
            out[f"{value}_min"] = min(numbers)
            out[f"{value}_max"] = max(numbers)
        summary.append(out)
    return summary


def write_table(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows as CSV atomically (floats rounded to 6 digits); returns the path."""
    rounded = [{k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()} for row in rows]
    write_csv(path, rounded)
    return path


def write_summary(
    out: Path,
    names: tuple[str, str, str],
    runs: list[dict[str, Any]],
    keys: Sequence[str],
    values: Sequence[str],
    plot: Callable[[list[dict[str, Any]], Path], Path],
) -> list[dict[str, Any]]:
    """Summarise ``runs`` over seeds, write ``names = (summary CSV, per-run CSV, PNG)`` in ``out``;
    returns the summary rows."""
    csv_name, runs_csv_name, png_name = names
    summary = summarise(runs, keys, values)
    write_table(out / runs_csv_name, runs)
    write_table(out / csv_name, summary)
    plot(summary, out / png_name)
    return summary


def pyplot() -> Any:
    """``matplotlib.pyplot`` with the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_grid(pyplot_module: Any, rows: int, columns: int, panel: tuple[float, float] = (5.4, 4.0)) -> Any:
    """``(figure, axes[rows][columns])`` sized per panel, at least 6.4 inches wide so titles fit."""
    rows, columns = max(rows, 1), max(columns, 1)
    size = (max(6.4, panel[0] * columns), panel[1] * rows)
    return pyplot_module.subplots(rows, columns, figsize=size, squeeze=False)


def log_axis_ticks(ax: Any, values: Iterable[float], base: float = 10) -> None:
    """A log-scaled x axis whose ticks are exactly ``values``, labelled as plain numbers."""
    ticks = sorted(set(values))
    ax.set_xscale("log", base=base)
    ax.set_xticks(ticks, labels=[f"{v:g}" for v in ticks])
    ax.minorticks_off()


@torch.no_grad()
def spike_times_per_layer(
    model: SpikingNetwork, splits: DataSplits, device: torch.device, seed: int, batch_size: int = 256
) -> Iterable[list[torch.Tensor]]:
    """Per test batch, the output spike times of every neuron layer (evaluation mode, noise seeded)."""
    from ..training.trainer import encode

    model.eval()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for start in range(0, len(splits.test), batch_size):
            x, _ = splits.test[start : start + batch_size]
            yield model.layer_outputs(encode(splits, model, x.to(device)))


@dataclass
class ExperimentContext:
    """What every experiment function needs: the preset, the output folder, the run cache, the evaluator."""

    preset: ExperimentPreset
    out: Path
    cache: RunCache
    evaluator: Evaluator
    log: Log


def make_context(
    preset: str | ExperimentPreset,
    out: str | Path,
    *,
    device: str = "cpu",
    data_dir: str | None = None,
    seeds: int | None = None,
    epochs: int | None = None,
    progress: bool = False,
    log: Log = print,
) -> ExperimentContext:
    """Resolve the preset (with ``seeds``/``epochs`` overrides) and set up the cache under ``out``."""
    resolved = get_preset(preset).with_overrides(seeds=seeds, epochs=epochs)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    return ExperimentContext(
        resolved, folder, RunCache(folder, device, data_dir, log, progress), Evaluator(device, data_dir), log
    )
