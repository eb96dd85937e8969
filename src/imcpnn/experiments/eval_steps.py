"""Experiment 4: test accuracy of trained models against the DSTD steps ``M`` used in evaluation
(paper Fig. 13), with the exact event-driven solver as the reference where the workload asks for it.

The models are each workload's reference runs (its ``E±`` and training ``M``), one per training
offset in ``eval_offsets`` and seed; with the default settings they are the same runs as in the
steps experiment, so running both trains them once.
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import save_figure
from .output import Row, figure_grid, log_axis_ticks, percent, pyplot, write_summary
from .presets import ExperimentPreset, Workload
from .runs import ExperimentContext, ExperimentOptions, Log, RunSpec, make_context, network_columns

NAME = "eval-steps"
CSV_NAME, RUNS_CSV_NAME, PNG_NAME = "eval_steps.csv", "eval_steps_runs.csv", "eval_steps.png"
KEYS = ("workload", "dataset", "model", "arch", "e_rev_pos", "e_rev_neg", "train_offset", "train_steps", "solver",
        "eval_steps")  # fmt: skip
VALUES = ("test_accuracy",)


def required_runs(workload: Workload) -> list[RunSpec]:
    """The trainings of this experiment for one workload."""
    return [
        RunSpec.reference(workload, workload.steps, offset == "random", seed)
        for offset in workload.eval_offsets
        for seed in workload.seed_values
    ]


def accuracy_vs_eval_steps(
    preset: str | ExperimentPreset = "quick",
    out: str | Path = "runs/experiments/quick",
    options: ExperimentOptions | None = None,
    *,
    log: Log = print,
) -> list[Row]:
    """Evaluate every reference run at each ``M`` of the workload's ``eval_steps_grid`` (and exactly).

    Writes ``OUT/eval_steps.csv`` (mean, std, min, max over seeds; accuracies in [0, 1]; the exact
    solver's rows have ``solver = exact`` and an empty ``eval_steps``), ``OUT/eval_steps_runs.csv``
    (one row per seed) and ``OUT/eval_steps.png``; returns the summary rows.
    """
    context = make_context(preset, out, options, log)
    runs: list[Row] = []
    for workload in context.preset.for_experiment(NAME):
        specs = required_runs(workload)
        log(f"{NAME}: {workload.name}, {len(specs)} runs x {len(workload.eval_steps_grid)} evaluation M")
        for spec in specs:
            runs.extend(_run_rows(context, spec))
    return write_summary(context.out, (CSV_NAME, RUNS_CSV_NAME, PNG_NAME), runs, KEYS, VALUES, plot_eval_steps)


def _run_rows(context: ExperimentContext, spec: RunSpec) -> list[Row]:
    run = context.cache.get(spec)
    config = context.cache.config(spec)
    params = config.neuron.params
    common = {
        **network_columns(spec.workload, config), "e_rev_pos": params.e_rev_pos, "e_rev_neg": params.e_rev_neg,
        "train_offset": spec.offset, "train_steps": spec.steps, "seed": spec.seed,
    }  # fmt: skip
    rows = [
        {**common, "solver": "dstd", "eval_steps": steps,
         "test_accuracy": context.evaluator.accuracy(run, solver="dstd", eval_steps=steps)}
        for steps in spec.workload.eval_steps_grid
    ]  # fmt: skip
    if spec.workload.eval_exact:
        exact = context.evaluator.accuracy(run, solver="exact")
        rows.append({**common, "solver": "exact", "eval_steps": None, "test_accuracy": exact})
    return rows


def format_rows(rows: list[Row]) -> str:
    """A short plain-text table of the summary rows (accuracies in %)."""
    lines = ["workload          train offset  train M  eval    acc ± std   seeds"]
    for r in rows:
        evaluation = "exact" if r["solver"] == "exact" else f"M={r['eval_steps']}"
        lines.append(
            f"{r['workload']:<17} {r['train_offset']:<13} {r['train_steps']:>7}  {evaluation:<6} "
            f"{percent(r['test_accuracy_mean'])} ± {100 * r['test_accuracy_std']:4.2f}  {r['n_seeds']}"
        )
    return "\n".join(lines)


def plot_eval_steps(summary: list[Row], path: Path) -> Path:
    """One panel per workload: accuracy (%) against evaluation ``M`` (log scale), one line per training offset."""
    plt = pyplot()
    workloads = list(dict.fromkeys(row["workload"] for row in summary))
    fig, axes = figure_grid(plt, 1, len(workloads))
    for ax, name in zip(axes[0], workloads, strict=False):
        rows = [r for r in summary if r["workload"] == name]
        offsets = list(dict.fromkeys(r["train_offset"] for r in rows))
        for index, offset in enumerate(offsets):
            color = "C0" if offset == "random" else "C3"
            dstd = [r for r in rows if r["train_offset"] == offset and r["solver"] == "dstd"]
            line = sorted(dstd, key=lambda r: r["eval_steps"])
            ax.errorbar(
                [r["eval_steps"] for r in line], [100 * r["test_accuracy_mean"] for r in line],
                yerr=[100 * r["test_accuracy_std"] for r in line], color=color, marker="o", capsize=3,
                label=f"trained with {offset} offset, M = {line[0]['train_steps']}",
            )  # fmt: skip
            exact = [r for r in rows if r["train_offset"] == offset and r["solver"] == "exact"]
            if exact:
                ax.axhline(100 * exact[0]["test_accuracy_mean"], color=color, ls=":", label=f"{offset}: exact solver")
            if index == 0:
                ax.axvline(line[0]["train_steps"], color="grey", lw=0.8, ls="--", label="training M")
        log_axis_ticks(ax, (r["eval_steps"] for r in rows if r["solver"] == "dstd"))
        first = rows[0]
        e_rev = f"|E±| = {first['e_rev_pos']:g}/{abs(first['e_rev_neg']):g}"
        ax.set_title(f"{name}: {e_rev}\nn = {first['n_seeds']} seeds: mean, error bars ±1 sample s.d.", fontsize=10)
        ax.set_xlabel("DSTD steps M in evaluation (log scale)")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle("Accuracy vs DSTD steps M in evaluation (cf. paper Fig. 13)", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)
