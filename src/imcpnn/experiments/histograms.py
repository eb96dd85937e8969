"""Experiment 3: histograms of the output spike times of every neuron layer on the test set (paper Fig. 4d).

The model is each workload's reference run (its ``E±``, ``M``, random offset, the first seed),
evaluated as the hardware runs it (evaluation mode: ``eval_steps``, offset 0, spike noise seeded).
Times are normalised (RC-Spike: the firing phase, ``[0, 1]``; TTFS: ``[0, window]``). RC-Spike
neurons always fire (``t = 1`` means ``v <= 0`` at the end of the accumulation phase, ``t = 0`` a
potential at or above 1); TTFS neurons can stay silent, which the ``silent_fraction`` column counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..atomic import save_figure
from ..data import DataSplits
from ..layers import SpikingConv2d, SpikingNetwork
from .output import Row, pyplot, write_table
from .presets import ExperimentPreset, Workload
from .runs import ExperimentContext, ExperimentOptions, Log, RunSpec, make_context, network_columns

NAME = "histograms"
CSV_NAME, PNG_NAME = "histograms.csv", "histograms.png"


def required_runs(workload: Workload) -> list[RunSpec]:
    """The one training of this experiment for a workload: its reference run, first seed."""
    return [RunSpec.reference(workload, workload.steps, True, workload.seed_values[0])]


def layer_names(model: SpikingNetwork) -> list[str]:
    """``"layer 1: conv 64"`` ... ``"layer L: dense 10 (output)"`` for the neuron layers of ``model``."""
    layers = list(model.spiking_layers())
    names = []
    for index, layer in enumerate(layers, start=1):
        kind = f"conv {layer.out_channels}" if isinstance(layer, SpikingConv2d) else f"dense {layer.out_features}"
        names.append(f"layer {index}: {kind}" + (" (output)" if index == len(layers) else ""))
    return names


@dataclass(frozen=True)
class LayerHistogram:
    """The output spike times of one neuron layer on the test set.

    Attributes:
        name: ``"layer 1: dense 100"`` (see :func:`layer_names`).
        edges: ``bins + 1`` bin edges over the time window (normalised time).
        counts: outputs per bin (silent outputs, ``t = inf``, are in none).
        outputs: every output of the layer (neurons x test samples).
        silent: outputs that never fired.
        time_sum: the sum of the fired outputs' spike times.
    """

    name: str
    edges: tuple[float, ...]
    counts: tuple[int, ...]
    outputs: int
    silent: int
    time_sum: float

    @property
    def silent_fraction(self) -> float:
        return self.silent / max(self.outputs, 1)

    @property
    def mean_spike_time(self) -> float | None:
        fired = self.outputs - self.silent
        return self.time_sum / fired if fired else None


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


def layer_histograms(
    model: SpikingNetwork, splits: DataSplits, device: torch.device, seed: int, window: float, bins: int
) -> list[LayerHistogram]:
    """The spike-time histogram of every neuron layer of ``model`` on the test set, ``bins`` over ``[0, window]``."""
    names = layer_names(model)
    counts = [torch.zeros(bins, dtype=torch.float64) for _ in names]
    silent = [0] * len(names)
    totals = [0] * len(names)
    time_sums = [0.0] * len(names)
    for layer_times in spike_times_per_layer(model, splits, device, seed):
        for index, times in enumerate(layer_times):
            times = times.detach().double().flatten().cpu()
            finite = times[torch.isfinite(times)]
            counts[index] += torch.histc(finite, bins=bins, min=0.0, max=window)
            silent[index] += int(times.numel() - finite.numel())
            totals[index] += int(times.numel())
            time_sums[index] += float(finite.sum())
    edges = tuple(torch.linspace(0.0, window, bins + 1, dtype=torch.float64).tolist())
    return [
        LayerHistogram(name, edges, tuple(int(c) for c in counts[i].tolist()), totals[i], silent[i], time_sums[i])
        for i, name in enumerate(names)
    ]


def spike_time_histograms(
    preset: str | ExperimentPreset = "quick",
    out: str | Path = "runs/experiments/quick",
    options: ExperimentOptions | None = None,
    *,
    log: Log = print,
) -> list[Row]:
    """Per workload and neuron layer, the distribution of output spike times on the test set.

    Writes ``OUT/histograms.csv`` (one row per layer and bin: bin edges in normalised time, count,
    ``fraction`` of all neuron outputs of the layer, the layer's ``silent_fraction`` and mean spike
    time) and ``OUT/histograms.png``; returns the rows.
    """
    context = make_context(preset, out, options, log)
    rows: list[Row] = []
    for workload in context.preset.for_experiment(NAME):
        log(f"{NAME}: {workload.name}, 1 run")
        rows.extend(_workload_rows(context, workload))
    write_table(context.out / CSV_NAME, rows)
    plot_histograms(rows, context.out / PNG_NAME)
    return rows


def _workload_rows(context: ExperimentContext, workload: Workload) -> list[Row]:
    (spec,) = required_runs(workload)
    run = context.cache.get(spec)
    model, config = context.evaluator.model(run)
    splits = context.evaluator.splits(config)
    histograms = layer_histograms(
        model, splits, context.evaluator.device, config.seed, config.time_window, workload.histogram_bins
    )
    neuron = config.neuron
    common = {
        **network_columns(workload, config), "e_rev_pos": neuron.params.e_rev_pos,
        "e_rev_neg": neuron.params.e_rev_neg, "train_steps": neuron.steps,
        "eval_steps": neuron.steps_for(training=False), "seed": config.seed, "test_accuracy": run.test_accuracy,
    }  # fmt: skip
    rows = []
    for index, layer in enumerate(histograms, start=1):
        for b, count in enumerate(layer.counts):
            rows.append({
                **common, "layer": index, "layer_name": layer.name, "outputs": layer.outputs,
                "bin_start": layer.edges[b], "bin_end": layer.edges[b + 1], "count": count,
                "fraction": count / max(layer.outputs, 1), "silent_fraction": layer.silent_fraction,
                "mean_spike_time": layer.mean_spike_time,
            })  # fmt: skip
    return rows


def format_rows(rows: list[Row]) -> str:
    """A short plain-text table of the rows: one line per layer, with its peak bin."""
    lines = ["workload          layer                         outputs   silent %  mean t   peak bin (share %)"]
    for workload, layer in dict.fromkeys((r["workload"], r["layer"]) for r in rows):
        bins = [r for r in rows if r["workload"] == workload and r["layer"] == layer]
        peak = max(bins, key=lambda r: r["fraction"])
        mean_time = bins[0]["mean_spike_time"]
        lines.append(
            f"{workload:<17} {bins[0]['layer_name']:<29} {bins[0]['outputs']:>8}  "
            f"{100 * bins[0]['silent_fraction']:7.2f}  {'-' if mean_time is None else f'{mean_time:.3f}':>6}   "
            f"[{peak['bin_start']:.2f}, {peak['bin_end']:.2f}] ({100 * peak['fraction']:.1f})"
        )
    return "\n".join(lines)


def plot_histograms(rows: list[Row], path: Path) -> Path:
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
