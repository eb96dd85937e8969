"""Experiment 1: test accuracy against the DSTD training steps ``M``, random against fixed grid offset
(paper Fig. 4e for RC-Spike, Fig. 5c for TTFS).

Each model is trained with ``M`` steps and evaluated twice: with the evaluation default
(``eval_steps``: 30 RC-Spike, 60 TTFS; offset 0), and on its own training grid (``eval_steps = M``).
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import save_figure
from .output import Row, figure_grid, log_axis_ticks, percent, pyplot, write_summary
from .presets import ExperimentPreset, Workload
from .runs import ExperimentContext, ExperimentOptions, Log, RunSpec, make_context, network_columns

NAME = "steps"
CSV_NAME, RUNS_CSV_NAME, PNG_NAME = "steps.csv", "steps_runs.csv", "steps.png"
KEYS = ("workload", "dataset", "model", "arch", "e_rev_pos", "e_rev_neg", "offset", "train_steps", "eval_steps")
VALUES = ("test_accuracy", "test_accuracy_at_train_steps")


def required_runs(workload: Workload) -> list[RunSpec]:
    """The trainings of this experiment for one workload."""
    return [
        RunSpec.reference(workload, steps, offset == "random", seed)
        for offset in ("random", "fixed")
        for steps in workload.steps_grid
        for seed in workload.seed_values
    ]


def accuracy_vs_steps(
    preset: str | ExperimentPreset = "quick",
    out: str | Path = "runs/experiments/quick",
    options: ExperimentOptions | None = None,
    *,
    log: Log = print,
) -> list[Row]:
    """Train every workload at each ``M`` of its ``steps_grid`` with random and fixed offset.

    Writes ``OUT/steps.csv`` (mean, std, min, max over seeds; accuracies in [0, 1]),
    ``OUT/steps_runs.csv`` (one row per seed) and ``OUT/steps.png``; returns the summary rows.
    """
    context = make_context(preset, out, options, log)
    runs: list[Row] = []
    for workload in context.preset.for_experiment(NAME):
        specs = required_runs(workload)
        log(f"{NAME}: {workload.name}, {len(specs)} runs")
        runs.extend(_run_row(context, spec) for spec in specs)
    return write_summary(context.out, (CSV_NAME, RUNS_CSV_NAME, PNG_NAME), runs, KEYS, VALUES, plot_steps)


def _run_row(context: ExperimentContext, spec: RunSpec) -> Row:
    run = context.cache.get(spec)
    config = context.cache.config(spec)
    params = config.neuron.params
    return {
        **network_columns(spec.workload, config), "e_rev_pos": params.e_rev_pos, "e_rev_neg": params.e_rev_neg,
        "offset": spec.offset, "train_steps": spec.steps, "eval_steps": config.neuron.steps_for(training=False),
        "seed": spec.seed, "epochs": config.optimiser.epochs, "test_accuracy": run.test_accuracy,
        "test_accuracy_at_train_steps": context.evaluator.accuracy(run, eval_steps=spec.steps),
        "val_accuracy": run.metrics.get("val_accuracy"), "best_epoch": run.metrics.get("best_epoch"),
        "wall_seconds": run.metrics.get("wall_seconds"), "run_dir": str(run.directory),
    }  # fmt: skip


def format_rows(rows: list[Row]) -> str:
    """A short plain-text table of the summary rows (accuracies in %)."""
    lines = ["workload          offset  train M  acc(eval M) ± std   acc(eval M = train M)  seeds"]
    for r in rows:
        at_train_steps = percent(r["test_accuracy_at_train_steps_mean"])
        lines.append(
            f"{r['workload']:<17} {r['offset']:<7} {r['train_steps']:>7}  {percent(r['test_accuracy_mean'])} ± "
            f"{100 * r['test_accuracy_std']:4.2f} (M={r['eval_steps']})  {at_train_steps:>21}  {r['n_seeds']:>5}"
        )
    return "\n".join(lines)


def plot_steps(summary: list[Row], path: Path) -> Path:
    """One panel per workload: accuracy (%) against training ``M``, one line per offset."""
    plt = pyplot()
    workloads = list(dict.fromkeys(row["workload"] for row in summary))
    fig, axes = figure_grid(plt, 1, len(workloads))
    for ax, name in zip(axes[0], workloads, strict=False):
        rows = [r for r in summary if r["workload"] == name]
        for offset, color in (("random", "C0"), ("fixed", "C3")):
            line = sorted((r for r in rows if r["offset"] == offset), key=lambda r: r["train_steps"])
            if not line:
                continue
            steps = [r["train_steps"] for r in line]
            ax.errorbar(
                steps, [100 * r["test_accuracy_mean"] for r in line], yerr=[100 * r["test_accuracy_std"] for r in line],
                color=color, marker="o", capsize=3, label=f"{offset} offset, eval M = {line[0]['eval_steps']}",
            )  # fmt: skip
            ax.plot(
                steps, [100 * r["test_accuracy_at_train_steps_mean"] for r in line], color=color, ls="--", marker=".",
                alpha=0.7, label=f"{offset} offset, eval M = train M",
            )  # fmt: skip
        log_axis_ticks(ax, (r["train_steps"] for r in rows), base=2)
        first = rows[0]
        e_rev = f"|E±| = {first['e_rev_pos']:g}/{abs(first['e_rev_neg']):g}"
        ax.set_title(f"{name}: {e_rev}\nn = {first['n_seeds']} seeds: mean, error bars ±1 sample s.d.", fontsize=10)
        ax.set_xlabel("DSTD training steps M (intervals per time window)")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Accuracy vs DSTD training steps M (cf. paper Fig. 4e, 5c)", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)
