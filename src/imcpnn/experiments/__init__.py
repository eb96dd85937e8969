"""The paper's experiments, each a function that trains (through :func:`imcpnn.training.train`, with
a cache under the output folder), evaluates, and writes a CSV and a PNG (see ``docs/experiments.md``):

1. :func:`accuracy_vs_steps`: accuracy against DSTD training ``M``, random vs fixed offset (Fig. 4e, 5c);
2. :func:`accuracy_vs_e_rev`: accuracy against ``|E±|``: physical network, mapped ANN, scaled ANN (Fig. 4f, 5d);
3. :func:`spike_time_histograms`: output spike times per layer on the test set (Fig. 4d);
4. :func:`accuracy_vs_eval_steps`: accuracy against the evaluation ``M`` (Fig. 13).

Each takes a preset (``"quick"`` or a paper preset, see :data:`PRESETS`), an output folder and
:class:`ExperimentOptions` (device, data folder, seed and epoch overrides). :data:`EXPERIMENT_REGISTRY`
describes each one (:class:`Experiment`: function, trainings, output files, text table).
"""

from __future__ import annotations

from pathlib import Path

from ..training import TrainConfig
from .erev import accuracy_vs_e_rev
from .eval_steps import accuracy_vs_eval_steps
from .histograms import spike_time_histograms
from .presets import EXPERIMENT_NAMES, PRESETS, ExperimentPreset, PaperPoint, Workload, get_preset
from .registry import EXPERIMENT_REGISTRY, Experiment, ExperimentFunction, get_experiment
from .runs import ExperimentOptions, RunSpec, train_config
from .steps import accuracy_vs_steps

#: Each experiment's function by name (from :data:`EXPERIMENT_REGISTRY`).
EXPERIMENTS: dict[str, ExperimentFunction] = {name: e.function for name, e in EXPERIMENT_REGISTRY.items()}
#: Each experiment's ``(CSV, PNG)`` file names by name (from :data:`EXPERIMENT_REGISTRY`).
OUTPUT_FILES: dict[str, tuple[str, str]] = {name: e.output_files for name, e in EXPERIMENT_REGISTRY.items()}


def planned_runs(
    experiment: str, preset: str | ExperimentPreset, out: str | Path, options: ExperimentOptions | None = None
) -> list[TrainConfig]:
    """The complete :class:`~imcpnn.training.TrainConfig` of every training an experiment needs (none run)."""
    return get_experiment(experiment).planned_runs(preset, out, options)


__all__ = [
    "EXPERIMENTS",
    "EXPERIMENT_NAMES",
    "EXPERIMENT_REGISTRY",
    "OUTPUT_FILES",
    "PRESETS",
    "Experiment",
    "ExperimentFunction",
    "ExperimentOptions",
    "ExperimentPreset",
    "PaperPoint",
    "RunSpec",
    "Workload",
    "accuracy_vs_e_rev",
    "accuracy_vs_eval_steps",
    "accuracy_vs_steps",
    "get_experiment",
    "get_preset",
    "planned_runs",
    "spike_time_histograms",
    "train_config",
]
