"""The registry of experiments: one :class:`Experiment` per experiment, read by the CLI and the package."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..training import TrainConfig
from . import erev, eval_steps, histograms, steps
from .output import Row
from .presets import EXPERIMENT_NAMES, ExperimentPreset, Workload
from .runs import ExperimentOptions, Log, RunSpec, train_config


class ExperimentFunction(Protocol):
    """An experiment: trains what it needs (cached under ``out``), writes its files, returns its rows."""

    def __call__(
        self,
        preset: str | ExperimentPreset = ...,
        out: str | Path = ...,
        options: ExperimentOptions | None = ...,
        *,
        log: Log = ...,
    ) -> list[Row]: ...


@dataclass(frozen=True)
class Experiment:
    """One experiment.

    Attributes:
        name: the registry key (``imcpnn experiment NAME``).
        description: one line for help texts.
        function: runs it (see :class:`ExperimentFunction`).
        required_runs: the trainings it needs for one workload.
        csv_name, png_name: the summary CSV and the figure it writes into the output folder.
        format_rows: its rows as a short plain-text table (accuracies in %).
    """

    name: str
    description: str
    function: ExperimentFunction
    required_runs: Callable[[Workload], list[RunSpec]]
    csv_name: str
    png_name: str
    format_rows: Callable[[list[Row]], str]

    @property
    def output_files(self) -> tuple[str, str]:
        """``(CSV, PNG)`` file names in the output folder."""
        return self.csv_name, self.png_name

    def planned_runs(
        self, preset: str | ExperimentPreset, out: str | Path, options: ExperimentOptions | None = None
    ) -> list[TrainConfig]:
        """The complete :class:`TrainConfig` of every training this experiment needs (none run)."""
        options = options or ExperimentOptions()
        return [
            train_config(spec, Path(out), options.device, options.data_dir)
            for workload in options.resolve(preset).for_experiment(self.name)
            for spec in self.required_runs(workload)
        ]


#: Every experiment by name, in the order ``imcpnn experiment all`` runs them.
EXPERIMENT_REGISTRY: dict[str, Experiment] = {
    experiment.name: experiment
    for experiment in (
        Experiment(
            steps.NAME, "accuracy vs DSTD training M, random vs fixed offset (Fig. 4e, 5c)", steps.accuracy_vs_steps,
            steps.required_runs, steps.CSV_NAME, steps.PNG_NAME, steps.format_rows,
        ),
        Experiment(
            erev.NAME, "accuracy vs |E±| for the physical network, the mapped ANN and the scaled ANN (Fig. 4f, 5d)",
            erev.accuracy_vs_e_rev, erev.required_runs, erev.CSV_NAME, erev.PNG_NAME, erev.format_rows,
        ),
        Experiment(
            histograms.NAME, "spike times per layer (Fig. 4d)", histograms.spike_time_histograms,
            histograms.required_runs, histograms.CSV_NAME, histograms.PNG_NAME, histograms.format_rows,
        ),
        Experiment(
            eval_steps.NAME, "accuracy vs evaluation M (Fig. 13)", eval_steps.accuracy_vs_eval_steps,
            eval_steps.required_runs, eval_steps.CSV_NAME, eval_steps.PNG_NAME, eval_steps.format_rows,
        ),
    )
}  # fmt: skip

if tuple(EXPERIMENT_REGISTRY) != EXPERIMENT_NAMES:  # the presets validate workloads against these names
    raise RuntimeError(f"EXPERIMENT_NAMES {EXPERIMENT_NAMES} differ from the registry {tuple(EXPERIMENT_REGISTRY)}")


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; a :class:`ValueError` lists the known ones."""
    try:
        return EXPERIMENT_REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENT_REGISTRY)}") from None
