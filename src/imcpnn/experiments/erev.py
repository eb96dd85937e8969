"""Experiment 2: test accuracy against the reversal potentials ``|E±|`` (paper Fig. 4f, 5d).

Three flows per ``|E±|`` (symmetric, ``E- = -E+``):

- ``physical``: the physical network trained at that ``|E±|`` (bottom-up, this library's flow);
- ``ann``: the ideal network, trained once per seed at ``ideal_e_rev`` (100 RC-Spike, 31.6 TTFS),
  evaluated unchanged at that ``|E±|`` (top-down mapping);
- ``scaled_ann``: the same ideal network with positive and negative weights scaled by ``(a+, a-)``,
  searched on the validation split (the training split when there is none) for each ``|E±|``.
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import save_figure
from ..params import reversal_pair
from ..training import TrainedRun
from .output import Row, figure_grid, log_axis_ticks, percent, pyplot, write_summary
from .presets import ExperimentPreset, PaperPoint, Workload
from .runs import ExperimentContext, ExperimentOptions, Log, RunSpec, make_context, network_columns

NAME = "erev"
CSV_NAME, RUNS_CSV_NAME, PNG_NAME = "erev.csv", "erev_runs.csv", "erev.png"
FLOWS = ("physical", "ann", "scaled_ann")
KEYS = (
    "workload", "dataset", "model", "arch", "train_steps", "eval_steps", "eval_solver", "eval_spike_noise", "e_rev",
    "flow",
)  # fmt: skip
VALUES = ("test_accuracy", "a_pos", "a_neg", "seconds_per_epoch")


def ideal_run(workload: Workload, seed: int) -> RunSpec:
    """The ideal network of the top-down flow: trained at the workload's ideal ``|E±|``."""
    return RunSpec.symmetric(workload, workload.ideal, workload.steps, True, seed)


def physical_run(workload: Workload, e_rev: float, seed: int) -> RunSpec:
    """The physical network trained at ``|E±| = e_rev``."""
    return RunSpec.symmetric(workload, e_rev, workload.steps, True, seed)


def required_runs(workload: Workload) -> list[RunSpec]:
    """The trainings of this experiment for one workload: the ideal network, then each ``|E±|``."""
    ideal = [ideal_run(workload, seed) for seed in workload.seed_values]
    physical = [physical_run(workload, e_rev, seed) for e_rev in workload.e_rev_grid for seed in workload.seed_values]
    return ideal + [spec for spec in physical if spec not in ideal]


def accuracy_vs_e_rev(
    preset: str | ExperimentPreset = "quick",
    out: str | Path = "runs/experiments/quick",
    options: ExperimentOptions | None = None,
    *,
    log: Log = print,
) -> list[Row]:
    """Physical network, mapped ANN and scaled ANN at each ``|E±|`` of every workload's ``e_rev_grid``.

    Writes ``OUT/erev.csv`` (mean, std, min, max over seeds; accuracies in [0, 1]; for the scaled
    ANN also the chosen ``a+``, ``a-``), ``OUT/erev_runs.csv`` (one row per seed) and ``OUT/erev.png``.
    """
    context = make_context(preset, out, options, log)
    runs: list[Row] = []
    for workload in context.preset.for_experiment(NAME):
        log(f"{NAME}: {workload.name}, {len(required_runs(workload))} runs; ideal |E±| = {workload.ideal:g}")
        ideal_runs = {seed: context.cache.get(ideal_run(workload, seed)) for seed in workload.seed_values}
        for e_rev in workload.e_rev_grid:
            for seed in workload.seed_values:
                runs.extend(_rows(context, physical_run(workload, e_rev, seed), e_rev, ideal_runs[seed]))
    paper = {w.name: w.paper for w in context.preset.for_experiment(NAME)}
    return write_summary(
        context.out, (CSV_NAME, RUNS_CSV_NAME, PNG_NAME), runs, KEYS, VALUES,
        lambda summary, path: plot_e_rev(summary, path, paper),
    )  # fmt: skip


def _rows(context: ExperimentContext, spec: RunSpec, e_rev: float, ideal: TrainedRun) -> list[Row]:
    """The three flows at ``|E±| = e_rev`` for one seed: physical, mapped ANN, scaled ANN."""
    workload = spec.workload
    physical = context.cache.get(spec)
    config = context.cache.config(spec)
    e_pos, e_neg = reversal_pair(e_rev)
    scaled = context.evaluator.scaled_accuracy(
        ideal, workload.scales, workload.scale_search_samples, e_rev_pos=e_pos, e_rev_neg=e_neg
    )
    mapped_accuracy = context.evaluator.accuracy(ideal, e_rev_pos=e_pos, e_rev_neg=e_neg)
    common = {
        **network_columns(workload, config), "train_steps": spec.steps,
        "eval_steps": config.neuron.steps_for(training=False), "eval_solver": config.neuron.solver,
        "eval_spike_noise": config.neuron.spike_noise, "e_rev": e_rev, "seed": spec.seed,
    }  # fmt: skip
    rows = [
        {**common, "flow": "physical", "trained_at_e_rev": e_rev, "test_accuracy": physical.test_accuracy,
         "a_pos": None, "a_neg": None, "searched_on": "", "run_dir": str(physical.directory)},
        {**common, "flow": "ann", "trained_at_e_rev": workload.ideal, "test_accuracy": mapped_accuracy,
         "a_pos": None, "a_neg": None, "searched_on": "", "run_dir": str(ideal.directory)},
        {**common, "flow": "scaled_ann", "trained_at_e_rev": workload.ideal, "test_accuracy": scaled.test_accuracy,
         "a_pos": scaled.a_pos, "a_neg": scaled.a_neg, "searched_on": scaled.searched_on,
         "run_dir": str(ideal.directory)},
    ]  # fmt: skip
    for row in rows:  # the CPU (or GPU) seconds per training epoch of the run behind each flow
        row["seconds_per_epoch"] = (physical if row["flow"] == "physical" else ideal).metrics.get("seconds_per_epoch")
    context.log(
        f"    |E±| = {e_rev:g}, seed {spec.seed}: physical {physical.test_accuracy:.4f}  ANN {mapped_accuracy:.4f}  "
        f"scaled ANN {scaled.test_accuracy:.4f} (a+ {scaled.a_pos:g}, a- {scaled.a_neg:g})"
    )
    return rows


def format_rows(rows: list[Row]) -> str:
    """A short plain-text table of the summary rows: the three flows per ``|E±|`` (accuracies in %)."""
    lines = ["workload          |E±|   physical   ANN    scaled ANN  (a+, a-)   seeds"]
    for workload, e_rev in dict.fromkeys((r["workload"], r["e_rev"]) for r in rows):
        by_flow = {r["flow"]: r for r in rows if r["workload"] == workload and r["e_rev"] == e_rev}
        scaled = by_flow["scaled_ann"]
        lines.append(
            f"{workload:<17} {e_rev:>5g}  {percent(by_flow['physical']['test_accuracy_mean'])}  "
            f"{percent(by_flow['ann']['test_accuracy_mean'])}  {percent(scaled['test_accuracy_mean'])}     "
            f"({scaled['a_pos_mean']:.2f}, {scaled['a_neg_mean']:.2f})  {scaled['n_seeds']}"
        )
    return "\n".join(lines)


def plot_e_rev(summary: list[Row], path: Path, paper: dict[str, tuple[PaperPoint, ...]] | None = None) -> Path:
    """One panel per workload: accuracy (%) against ``|E±|`` (log scale), one line per flow, and the
    paper's own figures for the workload (``paper``, by workload name) as black stars."""
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
        points = (paper or {}).get(name, ())
        for point in points:
            ax.plot([point.e_rev], [100 * point.accuracy], "k*", markersize=11, label=point.label)
        log_axis_ticks(ax, [*(r["e_rev"] for r in rows), *(p.e_rev for p in points)])
        ax.set_title(
            f"{name}: M = {rows[0]['train_steps']}\nn = {rows[0]['n_seeds']} seeds: mean, error bars ±1 sample s.d.",
            fontsize=10,
        )
        ax.set_xlabel("reversal potentials |E±| (normalised, log scale)")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle("Accuracy vs |E±|: physical training vs top-down mapping (cf. paper Fig. 4f, 5d)", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)
