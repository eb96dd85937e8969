"""The paper's experiments, each a function that trains (through :func:`imcpnn.training.train`, with
a cache under the output folder), evaluates, and writes a CSV and a PNG (see ``docs/experiments.md``):

1. :func:`accuracy_vs_steps`: accuracy against DSTD training ``M``, random vs fixed offset (Fig. 4e, 5c);
2. :func:`accuracy_vs_e_rev`: accuracy against ``|E±|``: physical network, mapped ANN, scaled ANN (Fig. 4f, 5d);
3. :func:`spike_time_histograms`: output spike times per layer on the test set (Fig. 4d);
4. :func:`accuracy_vs_eval_steps`: accuracy against the evaluation ``M`` (Fig. 13).

Each takes a preset (``"quick"`` or a paper preset, see :data:`PRESETS`) and an output folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import erev, eval_steps, histograms, steps
from .erev import accuracy_vs_e_rev
from .eval_steps import accuracy_vs_eval_steps
from .histograms import spike_time_histograms
from .presets import EXPERIMENT_NAMES, PRESETS, ExperimentPreset, Workload, get_preset
from .runs import RunSpec, train_config
from .steps import accuracy_vs_steps

ExperimentFunction = Callable[..., list[dict[str, Any]]]

EXPERIMENTS: dict[str, ExperimentFunction] = {
    "steps": accuracy_vs_steps,
    "erev": accuracy_vs_e_rev,
    "histograms": spike_time_histograms,
    "eval-steps": accuracy_vs_eval_steps,
}

_REQUIRED_RUNS: dict[str, Callable[[Workload], list[RunSpec]]] = {
    "steps": steps.required_runs,
    "erev": erev.required_runs,
    "histograms": histograms.required_runs,
    "eval-steps": eval_steps.required_runs,
}

OUTPUT_FILES = {
    "steps": (steps.CSV_NAME, steps.PNG_NAME),
    "erev": (erev.CSV_NAME, erev.PNG_NAME),
    "histograms": (histograms.CSV_NAME, histograms.PNG_NAME),
    "eval-steps": (eval_steps.CSV_NAME, eval_steps.PNG_NAME),
}


def planned_runs(
    experiment: str,
    preset: str | ExperimentPreset,
    out: str | Path,
    *,
    device: str = "cpu",
    data_dir: str | None = None,
    seeds: int | None = None,
    epochs: int | None = None,
) -> list[Any]:
    """The resolved :class:`~imcpnn.training.TrainConfig` of every training an experiment needs (none run)."""
    resolved = get_preset(preset).with_overrides(seeds=seeds, epochs=epochs)
    configs = []
    for workload in resolved.for_experiment(experiment):
        for spec in _REQUIRED_RUNS[experiment](workload):
            configs.append(train_config(spec, Path(out), device, data_dir))
    return configs


__all__ = [
    "EXPERIMENTS",
    "EXPERIMENT_NAMES",
    "OUTPUT_FILES",
    "PRESETS",
    "ExperimentPreset",
    "Workload",
    "accuracy_vs_e_rev",
    "accuracy_vs_eval_steps",
    "accuracy_vs_steps",
    "get_preset",
    "planned_runs",
    "spike_time_histograms",
]
