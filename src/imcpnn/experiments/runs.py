"""Trained models cached under the output folder, their evaluation, and what every experiment shares.

Every training goes through :func:`imcpnn.training.cache.train_or_reuse` (the one training cache).
A run lives in ``OUT/models/<workload>/<settings>-<hash>/``; the hash covers the run's training
record (:meth:`~imcpnn.training.TrainConfig.to_record`) except the output folder, the device and
the data folder, so a changed setting trains a new model and an unchanged one is reused. A run
with ``metrics.json`` is done and skipped; one with only ``last.pt`` (interrupted) is resumed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch.utils.data import TensorDataset

from ..atomic import write_json
from ..data import DataSplits, load_dataset
from ..layers import NeuronConfig, SpikingNetwork
from ..params import NeuronParams, reversal_pair
from ..training import (
    TrainConfig,
    TrainedRun,
    evaluate_accuracy,
    load_trained_model,
    scale_search,
    scaled_weights,
    train_or_reuse,
)
from ..training.evaluate import ScaledResult
from ..training.trainer import resolve_device
from .output import Row
from .presets import ExperimentPreset, Workload, get_preset

Log = Callable[[str], None]
_NOT_HASHED = ("out", "device", "data_dir")
#: Settings added to the training record after runs were cached, with the value every earlier run had:
#: at that value they stay out of the folder hash, so the runs cached before them are still found.
ADDED_SETTINGS: dict[str, Any] = {
    "precision": "fp32", "silent_surrogate": 0.0, "max_eval_samples": None, "characterization": None,
    "calibrate_init": 0, "silent_hidden_penalty": 0.0,
}  # fmt: skip


@dataclass(frozen=True)
class RunSpec:
    """One training run of a workload: its reversal potentials ``(E+, E-)`` (normalised, checked as
    :class:`~imcpnn.params.NeuronParams` checks them), DSTD steps, offset, seed.

    :meth:`symmetric` and :meth:`reference` make one from ``|E±|`` or from the workload's reference ``E±``.
    """

    workload: Workload
    e_rev_pos: float
    e_rev_neg: float
    steps: int
    random_offset: bool
    seed: int

    def __post_init__(self) -> None:
        params = NeuronParams(e_rev_pos=self.e_rev_pos, e_rev_neg=self.e_rev_neg)
        object.__setattr__(self, "e_rev_pos", params.e_rev_pos)
        object.__setattr__(self, "e_rev_neg", params.e_rev_neg)

    @classmethod
    def symmetric(cls, workload: Workload, e_rev: float, steps: int, random_offset: bool, seed: int) -> RunSpec:
        """A run at ``E± = ±e_rev``."""
        return cls(workload, *reversal_pair(e_rev), steps, random_offset, seed)

    @classmethod
    def reference(cls, workload: Workload, steps: int, random_offset: bool, seed: int) -> RunSpec:
        """A run at the workload's reference ``E±``."""
        return cls(workload, *workload.reference_e_rev, steps, random_offset, seed)

    @property
    def e_rev(self) -> tuple[float, float]:
        return self.e_rev_pos, self.e_rev_neg

    @property
    def offset(self) -> str:
        return "random" if self.random_offset else "fixed"

    @property
    def label(self) -> str:
        return f"e{self.e_rev_pos:g}_{self.e_rev_neg:g}-m{self.steps}-{self.offset}-s{self.seed}"


def train_config(spec: RunSpec, out: Path, device: str = "cpu", data_dir: str | None = None) -> TrainConfig:
    """The complete :class:`TrainConfig` of a run, with its cache folder as ``out``."""
    workload = spec.workload
    config = TrainConfig.from_flags(
        dataset=workload.dataset, model=workload.model, arch=workload.arch, e_rev=spec.e_rev, steps=spec.steps,
        offset=spec.offset, seed=spec.seed, epochs=workload.epochs, device=device, data_dir=data_dir,
        **workload.train,
    )  # fmt: skip
    hashed = {
        k: v
        for k, v in config.to_record().items()
        if k not in _NOT_HASHED and not (k in ADDED_SETTINGS and v == ADDED_SETTINGS[k])
    }
    digest = hashlib.sha256(json.dumps(hashed, sort_keys=True, default=str).encode()).hexdigest()[:8]
    folder = out / "models" / workload.name / f"{spec.label}-ep{config.optimiser.epochs}-{digest}"
    return config.replace(out=str(folder))


def network_columns(workload: Workload, config: TrainConfig) -> Row:
    """The first CSV columns of every experiment: which network on which data."""
    return {
        "workload": workload.name,
        "dataset": config.data.dataset,
        "model": config.neuron.family,
        "arch": config.arch,
    }


class RunCache:
    """Trains runs on demand and reuses finished ones (see the module docstring); counts both."""

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
        run, trained_now = train_or_reuse(
            self.config(spec), progress=self.progress, log=self.log, name=f"{spec.workload.name} {spec.label}",
            log_epochs=True,
        )  # fmt: skip
        if trained_now:
            self.trained_now += 1
        else:
            self.reused += 1
        return run


class Evaluator:
    """Evaluates trained runs under other settings (evaluation ``M``, solver, ``E±``, weight scales).

    Splits are loaded once per (data set, seed); each evaluation starts from the run's own neuron
    settings, so changes never leak from one call to the next. Accuracies use the trainer's
    :func:`~imcpnn.training.evaluate_accuracy` (evaluation mode, spike noise seeded with the run's seed).
    Every result is kept in the run's ``evaluations.json`` (keyed by what was asked and the device
    type), so a rerun of an experiment, or another experiment on the same run, does not evaluate again.
    """

    def __init__(self, device: str = "cpu", data_dir: str | None = None) -> None:
        self.device = resolve_device(device)
        self.device_name = device
        self.data_dir = data_dir
        self._splits: dict[tuple[Any, ...], DataSplits] = {}
        self._models: dict[Path, tuple[SpikingNetwork, TrainConfig, NeuronConfig]] = {}

    def splits(self, config: TrainConfig) -> DataSplits:
        data = config.data
        folder = self.data_dir or data.data_dir
        key = (data.dataset, config.seed, data.val_fraction, folder)
        if key not in self._splits:
            self._splits[key] = load_dataset(data.dataset, folder, seed=config.seed, val_fraction=data.val_fraction)
        return self._splits[key]

    def model(self, run: TrainedRun, **changes: Any) -> tuple[SpikingNetwork, TrainConfig]:
        """The run's best model with its own neuron settings, then ``changes`` (fields of
        :class:`~imcpnn.layers.NeuronConfig` or :class:`~imcpnn.params.NeuronParams`)."""
        if run.checkpoint not in self._models:
            model, config = load_trained_model(run.checkpoint, self.device_name)
            self._models = {run.checkpoint: (model, config, model.config)}  # keep one model in memory
        model, config, original = self._models[run.checkpoint]
        model.set_config(**{f.name: getattr(original, f.name) for f in dataclasses.fields(original)})
        if changes:
            model.set_config(**changes)
        return model, config

    def accuracy(self, run: TrainedRun, **changes: Any) -> float:
        """Test accuracy (in [0, 1]) of the run's best model with neuron settings ``changes``."""
        key = self._key("accuracy", changes)
        stored = _stored_evaluations(run).get(key)
        if stored is not None:
            return float(stored)
        model, config = self.model(run, **changes)
        splits = self.splits(config)
        accuracy = evaluate_accuracy(model, splits.test, splits, self.device, config.seed)
        _store_evaluation(run, key, accuracy)
        return accuracy

    def scaled_accuracy(
        self, run: TrainedRun, scales: Sequence[float], search_samples: int | None = None, **changes: Any
    ) -> ScaledResult:
        """The scaled ANN: ``(a+, a-)`` searched over ``scales`` on the validation split (the training
        split when there is none; its first ``search_samples`` samples when given), and the test accuracy
        at them."""
        key = self._key("scaled", changes, scales=list(scales), search_samples=search_samples)
        stored = _stored_evaluations(run).get(key)
        if stored is not None:
            return ScaledResult(
                stored["a_pos"], stored["a_neg"], stored["searched_on"], stored["test_accuracy"],
                tuple(tuple(point) for point in stored["grid"]),
            )  # fmt: skip
        model, config = self.model(run, **changes)
        splits = self.splits(config)
        searched_on = "val" if len(splits.val) else "train"
        search_split = splits.val if len(splits.val) else splits.train
        if search_samples is not None and search_samples < len(search_split):
            search_split = TensorDataset(*search_split[:search_samples])
            searched_on = f"{searched_on}[:{search_samples}]"
        (a_pos, a_neg), grid = scale_search(model, search_split, splits, self.device, scales, config.seed)
        with scaled_weights(model, a_pos, a_neg):
            accuracy = evaluate_accuracy(model, splits.test, splits, self.device, config.seed)
        points = tuple((a, b, acc) for (a, b), acc in sorted(grid.items()))
        result = ScaledResult(a_pos, a_neg, searched_on, accuracy, points)
        _store_evaluation(run, key, dataclasses.asdict(result))
        return result

    def _key(self, kind: str, changes: dict[str, Any], **settings: Any) -> str:
        asked = {"kind": kind, "device": self.device.type, "changes": changes, **settings}
        return json.dumps(asked, sort_keys=True, default=str)


EVALUATIONS_FILE = "evaluations.json"


def _stored_evaluations(run: TrainedRun) -> dict[str, Any]:
    """The results already in the run's ``evaluations.json`` (none when it is missing or unreadable)."""
    path = run.directory / EVALUATIONS_FILE
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def _store_evaluation(run: TrainedRun, key: str, value: Any) -> None:
    stored = _stored_evaluations(run)
    stored[key] = value
    write_json(run.directory / EVALUATIONS_FILE, stored)


@dataclass(frozen=True)
class ExperimentOptions:
    """How an experiment runs (what it computes is its preset's).

    Attributes:
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        data_dir: folder of the data set files (Fashion-MNIST, CIFAR-10); ``None``: the default.
        seeds: seeds ``1 .. seeds`` per setting instead of the preset's.
        epochs: training epochs instead of the preset's.
        progress: show a progress bar while training.
    """

    device: str = "cpu"
    data_dir: str | None = None
    seeds: int | None = None
    epochs: int | None = None
    progress: bool = False

    def __post_init__(self) -> None:
        for name in ("seeds", "epochs"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be an integer >= 1 (--{name}); got {value!r}")

    def resolve(self, preset: str | ExperimentPreset) -> ExperimentPreset:
        """The preset with these options' ``seeds`` and ``epochs`` overrides."""
        return get_preset(preset).with_overrides(seeds=self.seeds, epochs=self.epochs)


@dataclass(frozen=True)
class ExperimentContext:
    """What every experiment function needs: the preset, the output folder, the run cache, the evaluator."""

    preset: ExperimentPreset
    out: Path
    cache: RunCache
    evaluator: Evaluator
    log: Log


def make_context(
    preset: str | ExperimentPreset, out: str | Path, options: ExperimentOptions | None = None, log: Log = print
) -> ExperimentContext:
    """Resolve the preset (with the options' ``seeds``/``epochs``) and set up the cache under ``out``."""
    options = options or ExperimentOptions()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    cache = RunCache(folder, options.device, options.data_dir, log, options.progress)
    return ExperimentContext(options.resolve(preset), folder, cache, Evaluator(options.device, options.data_dir), log)
