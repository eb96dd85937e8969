"""Experiment 3: histograms of the output spike times of every neuron layer on the test set (paper Fig. 4d).

The model is each workload's reference run (its ``E±``, ``M``, random offset, the first seed),
evaluated as the hardware runs it (evaluation mode: ``eval_steps``, offset 0, spike noise seeded).
Times are normalised (RC-Spike: the firing phase, ``[0, 1]``; TTFS: ``[0, window]``). RC-Spike
neurons always fire (``t = 1`` means ``v <= 0`` at the end of the accumulation phase, ``t = 0`` a
potential at or above 1); TTFS neurons can stay silent, which the ``silent_fraction`` column counts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..atomic import save_figure
from ..layers import SpikingConv2d, SpikingNetwork
from .presets import ExperimentPreset, Workload
from .runs import ExperimentContext, RunSpec, make_context, pyplot, spike_times_per_layer, write_table

CSV_NAME, PNG_NAME = "histograms.csv", "histograms.png"


def required_runs(workload: Workload) -> list[RunSpec]:
    """The one training of this experiment for a workload: its reference run, first seed."""
    return [RunSpec(workload, workload.e_rev_pos, workload.e_rev_neg, workload.steps, True, workload.seed_values[0])]


def layer_names(model: SpikingNetwork) -> list[str]:
    """``"layer 1: conv 64"`` ... ``"layer L: dense 10 (output)"`` for the neuron layers of ``model``."""
    layers = list(model.spiking_layers())
    names = []
    for index, layer in enumerate(layers, start=1):
        kind = f"conv {layer.out_channels}" if isinstance(layer, SpikingConv2d) else f"dense {layer.out_features}"
        names.append(f"layer {index}: {kind}" + (" (output)" if index == len(layers) else ""))
    return names


def spike_time_histograms(
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
    """Per workload and neuron layer, the distribution of output spike times on the test set.

    Writes ``OUT/histograms.csv`` (one row per layer and bin: bin edges in normalised time, count,
    ``fraction`` of all neuron outputs of the layer, the layer's ``silent_fraction`` and mean spike
    time) and ``OUT/histograms.png``; returns the rows.
    """
    context = make_context(
        preset, out, device=device, data_dir=data_dir, seeds=seeds, epochs=epochs, progress=progress, log=log
    )
    rows: list[dict[str, Any]] = []
    for workload in context.preset.for_experiment("histograms"):
        log(f"histograms: {workload.name}, 1 run")
        rows.extend(_workload_rows(context, workload))
    write_table(context.out / CSV_NAME, rows)
    plot_histograms(rows, context.out / PNG_NAME)
    return rows


def _workload_rows(context: ExperimentContext, workload: Workload) -> list[dict[str, Any]]:
    (spec,) = required_runs(workload)
    run = context.cache.get(spec)
    model, config = context.evaluator.model(run)
    splits = context.evaluator.splits(config)
    window = config.time_window
    bins = workload.histogram_bins
    names = layer_names(model)
    counts = [torch.zeros(bins, dtype=torch.float64) for _ in names]
    silent = [0] * len(names)
    totals = [0] * len(names)
    time_sums = [0.0] * len(names)
    for layer_times in spike_times_per_layer(model, splits, context.evaluator.device, config.seed):
        for index, times in enumerate(layer_times):
            times = times.detach().double().flatten().cpu()
            finite = times[torch.isfinite(times)]
            counts[index] += torch.histc(finite, bins=bins, min=0.0, max=window)
            silent[index] += int(times.numel() - finite.numel())
            totals[index] += int(times.numel())
            time_sums[index] += float(finite.sum())
    edges = torch.linspace(0.0, window, bins + 1, dtype=torch.float64).tolist()
    rows = []
    for index, name in enumerate(names):
        fired = totals[index] - silent[index]
        for b in range(bins):
            rows.append({
                "workload": workload.name, "dataset": config.dataset, "model": config.model, "arch": config.arch,
                "e_rev_pos": config.e_rev_pos, "e_rev_neg": config.e_rev_neg, "train_steps": config.steps,
                "eval_steps": config.eval_steps, "seed": config.seed, "test_accuracy": run.test_accuracy,
                "layer": index + 1, "layer_name": name, "outputs": totals[index], "bin_start": edges[b],
                "bin_end": edges[b + 1], "count": int(counts[index][b]),
                "fraction": float(counts[index][b]) / max(totals[index], 1),
                "silent_fraction": silent[index] / max(totals[index], 1),
                "mean_spike_time": time_sums[index] / fired if fired else None,
            })  # fmt: skip
    return rows


def plot_histograms(rows: list[dict[str, Any]], path: Path) -> Path:
    """One row of panels per workload, one panel per neuron layer: fraction (%) of outputs per time bin."""
    plt = pyplot()
    workloads = list(dict.fromkeys(row["workload"] for row in rows))
    layers_per_workload = {w: list(dict.fromkeys(r["layer"] for r in rows if r["workload"] == w)) for w in workloads}
    columns = max((len(v) for v in layers_per_workload.values()), default=1)
    fig, axes = plt.subplots(
        max(len(workloads), 1), columns, figsize=(4.2 * columns, 3.2 * max(len(workloads), 1)), squeeze=False
    )
    for row_axes, name in zip(axes, workloads, strict=False):
        for ax in row_axes[len(layers_per_workload[name]) :]:
            ax.set_visible(False)
        for ax, layer in zip(row_axes, layers_per_workload[name], strict=False):
            bins = [r for r in rows if r["workload"] == name and r["layer"] == layer]
            first = bins[0]
            ax.bar(
                [r["bin_start"] for r in bins], [100 * r["fraction"] for r in bins],
                width=[r["bin_end"] - r["bin_start"] for r in bins], align="edge", color="C0", edgecolor="none",
            )  # fmt: skip
            silent = f", silent {100 * first['silent_fraction']:.1f} %" if first["silent_fraction"] else ""
            ax.set_title(f"{name}\n{first['layer_name']}{silent}", fontsize=9)
            ax.set_xlabel("output spike time t (normalised)")
            ax.set_ylabel("share of neuron outputs (%)")
            ax.set_xlim(0.0, bins[-1]["bin_end"])
        first = next(r for r in rows if r["workload"] == name)
        row_axes[0].annotate(
            f"|E±| = {first['e_rev_pos']:g}/{abs(first['e_rev_neg']):g}, M = {first['train_steps']}, "
            f"test acc. {100 * first['test_accuracy']:.1f} %",
            xy=(0.02, 0.97), xycoords="axes fraction", va="top", fontsize=8,
        )  # fmt: skip
    fig.suptitle("Output spike times per layer on the test set (cf. paper Fig. 4d)", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)
