"""Experiment 2: test accuracy against the reversal potentials ``|E±|`` (paper Fig. 4f, 5d).

Three flows per ``|E±|`` (symmetric, ``E- = -E+``):

- ``physical``: the physical network trained at that ``|E±|`` (bottom-up, this library's flow);
- ``ann``: the ideal network, trained once per seed at ``ideal_e_rev`` (100 RC-Spike, 31.6 TTFS),
  evaluated unchanged at that ``|E±|`` (top-down mapping);
- ``scaled_ann``: the same ideal network with positive and negative weights scaled by ``(a+, a-)``,
  searched on the validation split (the training split when there is none) for each ``|E±|``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..atomic import save_figure
from .presets import ExperimentPreset, Workload
from .runs import (
    ExperimentContext,
    RunSpec,
    figure_grid,
    log_axis_ticks,
    make_context,
    pyplot,
    write_summary,
)

CSV_NAME, RUNS_CSV_NAME, PNG_NAME = "erev.csv", "erev_runs.csv", "erev.png"
FLOWS = ("physical", "ann", "scaled_ann")
KEYS = ("workload", "dataset", "model", "arch", "train_steps", "eval_steps", "e_rev", "flow")
VALUES = ("test_accuracy", "a_pos", "a_neg")


def required_runs(workload: Workload) -> list[RunSpec]:
    """The trainings of this experiment for one workload: the ideal network, then each ``|E±|``."""
    ideal = [RunSpec(workload, workload.ideal, None, workload.steps, True, seed) for seed in workload.seed_values]
    physical = [
        RunSpec(workload, e_rev, None, workload.steps, True, seed)
        for e_rev in workload.e_rev_grid
        for seed in workload.seed_values
    ]
    return ideal + [spec for spec in physical if spec not in ideal]


def accuracy_vs_e_rev(
    preset: str | ExperimentPreset = "quick",
    out: str | Path = "runs/experiments/quick",
    *,
    device: str = "cpu",
    data_dir: str | None = None,
    seeds: int | None = None,
    epochs: int | None = None,
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Physical network, mapped ANN and scaled ANN at each ``|E±|`` of every workload's ``e_rev_grid``.

    Writes ``OUT/erev.csv`` (mean, std, min, max over seeds; accuracies in [0, 1]; for the scaled
    ANN also the chosen ``a+``, ``a-``), ``OUT/erev_runs.csv`` (one row per seed) and ``OUT/erev.png``.
    """
    context = make_context(
        preset, out, device=device, data_dir=data_dir, seeds=seeds, epochs=epochs, progress=progress, log=log
    )
    runs: list[dict[str, Any]] = []
    for workload in context.preset.for_experiment("erev"):
        log(f"erev: {workload.name}, {len(required_runs(workload))} runs; ideal |E±| = {workload.ideal:g}")
        runs.extend(_workload_rows(context, workload))
    return write_summary(context.out, (CSV_NAME, RUNS_CSV_NAME, PNG_NAME), runs, KEYS, VALUES, plot_e_rev)


def _workload_rows(context: ExperimentContext, workload: Workload) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    ideal_runs = {
        seed: context.cache.get(RunSpec(workload, workload.ideal, None, workload.steps, True, seed))
        for seed in workload.seed_values
    }
    for e_rev in workload.e_rev_grid:
        for seed in workload.seed_values:
            spec = RunSpec(workload, e_rev, None, workload.steps, True, seed)
            physical = context.cache.get(spec)
            config = context.cache.config(spec)
            ideal = ideal_runs[seed]
            mapped = {"e_rev_pos": e_rev, "e_rev_neg": -e_rev}
            scaled, a_pos, a_neg, searched_on = context.evaluator.scaled_accuracy(ideal, workload.scales, **mapped)
            common = {
                "workload": workload.name, "dataset": config.dataset, "model": config.model, "arch": config.arch,
                "train_steps": spec.steps, "eval_steps": config.eval_steps, "e_rev": e_rev, "seed": seed,
            }  # fmt: skip
            rows.append({**common, "flow": "physical", "trained_at_e_rev": e_rev,
                         "test_accuracy": physical.test_accuracy, "a_pos": None, "a_neg": None, "searched_on": "",
                         "run_dir": str(physical.directory)})  # fmt: skip
            rows.append({**common, "flow": "ann", "trained_at_e_rev": workload.ideal,
                         "test_accuracy": context.evaluator.accuracy(ideal, **mapped), "a_pos": None, "a_neg": None,
                         "searched_on": "", "run_dir": str(ideal.directory)})  # fmt: skip
            rows.append({**common, "flow": "scaled_ann", "trained_at_e_rev": workload.ideal,
                         "test_accuracy": scaled, "a_pos": a_pos, "a_neg": a_neg, "searched_on": searched_on,
                         "run_dir": str(ideal.directory)})  # fmt: skip
            context.log(
                f"    |E±| = {e_rev:g}, seed {seed}: physical {rows[-3]['test_accuracy']:.4f}  "
                f"ANN {rows[-2]['test_accuracy']:.4f}  scaled ANN {scaled:.4f} (a+ {a_pos:g}, a- {a_neg:g})"
            )
    return rows


def plot_e_rev(summary: list[dict[str, Any]], path: Path) -> Path:
    """One panel per workload: accuracy (%) against ``|E±|`` (log scale), one line per flow."""
    plt = pyplot()
    workloads = list(dict.fromkeys(row["workload"] for row in summary))
    fig, axes = figure_grid(plt, 1, len(workloads))
    styles = {
        "physical": ("C0", "o", "physical (trained at |E±|)"),
        "ann": ("C3", "s", "ANN (ideal, mapped to |E±|)"),
        "scaled_ann": ("C2", "^", "scaled ANN (a+, a- searched)"),
    }
    for ax, name in zip(axes[0], workloads, strict=False):
        rows = [r for r in summary if r["workload"] == name]
        for flow in FLOWS:
            color, marker, label = styles[flow]
            line = sorted((r for r in rows if r["flow"] == flow), key=lambda r: r["e_rev"])
            ax.errorbar(
                [r["e_rev"] for r in line], [100 * r["test_accuracy_mean"] for r in line],
                yerr=[100 * r["test_accuracy_std"] for r in line], color=color, marker=marker, capsize=3, label=label,
            )  # fmt: skip
        log_axis_ticks(ax, (r["e_rev"] for r in rows))
        ax.set_title(f"{name}: M = {rows[0]['train_steps']}, n = {rows[0]['n_seeds']} seeds", fontsize=10)
        ax.set_xlabel("reversal potentials |E±| (normalised, log scale)")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle("Accuracy vs |E±|: physical training vs top-down mapping (cf. paper Fig. 4f, 5d)", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)
