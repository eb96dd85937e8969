"""``imcpnn experiment NAME``: the paper's experiments (a CSV and a PNG each), thin over :mod:`imcpnn.experiments`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

NAMES = ("steps", "erev", "histograms", "eval-steps", "all")


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..experiments import PRESETS

    parser = subparsers.add_parser(
        "experiment",
        help="run a paper experiment (accuracy vs M, vs |E±|, spike-time histograms, vs evaluation M)",
        description="Train (with a cache under --out: re-running resumes), evaluate, and write NAME.csv and "
        "NAME.png. steps: accuracy vs DSTD training M, random vs fixed offset (Fig. 4e, 5c); erev: accuracy "
        "vs |E±| for the physical network, the mapped ANN and the scaled ANN (Fig. 4f, 5d); histograms: "
        "spike times per layer (Fig. 4d); eval-steps: accuracy vs evaluation M (Fig. 13); all: the four.",
        epilog="presets: " + "; ".join(f"{p.name}: {p.description} [needs {p.needs}]" for p in PRESETS.values()),
    )
    parser.add_argument("name", choices=NAMES, help="which experiment")
    parser.add_argument("--preset", default="quick", choices=list(PRESETS), help="workloads and grids (default quick)")
    parser.add_argument("--out", type=Path, help="output folder (default runs/experiments/PRESET)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--data-dir", help="folder of the data set files (Fashion-MNIST, CIFAR-10)")
    parser.add_argument("--seeds", type=int, help="seeds per setting (default: the preset's)")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the preset's)")
    parser.add_argument(
        "--threads", type=int, help="CPU threads of torch (default: 1 for the quick preset on CPU, else torch's)"
    )
    parser.add_argument("--progress", action="store_true", help="show a progress bar while training")
    parser.add_argument(
        "--dry-run", action="store_true", help="list the trainings and build the networks, train nothing"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..experiments import EXPERIMENT_NAMES, EXPERIMENTS, OUTPUT_FILES

    if args.seeds is not None and args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1; got {args.seeds}")
    if args.epochs is not None and args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1; got {args.epochs}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1; got {args.threads}")
    _set_threads(args)
    out = args.out or Path("runs/experiments") / args.preset
    names = EXPERIMENT_NAMES if args.name == "all" else (args.name,)
    if args.dry_run:
        return _dry_run(args, names, out)
    options: dict[str, Any] = {
        "device": args.device, "data_dir": args.data_dir, "seeds": args.seeds, "epochs": args.epochs,
        "progress": args.progress,
    }  # fmt: skip
    for name in names:
        started = time.perf_counter()
        rows = EXPERIMENTS[name](args.preset, out, **options)
        csv_name, png_name = OUTPUT_FILES[name]
        print(f"\n{name}: {out / csv_name}, {out / png_name} ({time.perf_counter() - started:.1f} s)")
        print(format_rows(name, rows))
    return 0


def _set_threads(args: argparse.Namespace) -> None:
    """The quick preset's tensors are tiny: torch's intra-op threads only add overhead, and on a busy
    2-core machine they made a digits epoch 7x slower (54 s against 7.5 s wall), so it runs on one."""
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    elif args.preset == "quick" and args.device == "cpu":
        torch.set_num_threads(1)


def _dry_run(args: argparse.Namespace, names: tuple[str, ...], out: Path) -> int:
    from ..experiments import planned_runs
    from ..training import build_model

    built: set[tuple[str, str]] = set()
    distinct: dict[str, int] = {}
    for name in names:
        configs = planned_runs(
            name, args.preset, out, device=args.device, data_dir=args.data_dir, seeds=args.seeds, epochs=args.epochs
        )
        folders = {c.out for c in configs}
        cached = sum((Path(folder) / "metrics.json").is_file() for folder in folders)
        epochs = sum(int(c.epochs) for c in {c.out: c for c in configs}.values())
        print(f"{name}: {len(folders)} trainings ({cached} already done), {epochs} epochs in all")
        for config in {c.out: c for c in configs}.values():
            distinct[config.out] = int(config.epochs)
            print(
                f"  {config.dataset} {config.model} {config.arch}  E± {config.e_rev_pos:g}/{config.e_rev_neg:g}  "
                f"M {config.steps} ({'random' if config.random_offset else 'fixed'})  seed {config.seed}  "
                f"{config.epochs} epochs, batch {config.batch_size}, lr {config.lr:g}  -> {config.out}"
            )
            if (config.model, str(config.arch)) not in built:
                network = build_model(config)
                parameters = sum(p.numel() for p in network.parameters())
                print(f"    network {network.input_shape} -> {network.output_shape}: {parameters:,} weights")
                built.add((config.model, str(config.arch)))
    if len(names) > 1:
        print(f"together: {len(distinct)} distinct trainings, {sum(distinct.values())} epochs (shared runs once)")
    return 0


def _percent(value: float | None) -> str:
    return "   -  " if value is None else f"{100 * value:6.2f}"


def format_rows(name: str, rows: list[dict[str, Any]]) -> str:
    """A short plain-text table of an experiment's summary rows (accuracies in %)."""
    lines: list[str] = []
    if name == "steps":
        lines.append("workload          offset  train M  acc(eval M) ± std   acc(eval M = train M)  seeds")
        for r in rows:
            at_train_steps = _percent(r["test_accuracy_at_train_steps_mean"])
            lines.append(
                f"{r['workload']:<17} {r['offset']:<7} {r['train_steps']:>7}  {_percent(r['test_accuracy_mean'])} ± "
                f"{100 * r['test_accuracy_std']:4.2f} (M={r['eval_steps']})  {at_train_steps:>21}  {r['n_seeds']:>5}"
            )
    elif name == "erev":
        lines.append("workload          |E±|   physical   ANN    scaled ANN  (a+, a-)   seeds")
        keys = list(dict.fromkeys((r["workload"], r["e_rev"]) for r in rows))
        for workload, e_rev in keys:
            by_flow = {r["flow"]: r for r in rows if r["workload"] == workload and r["e_rev"] == e_rev}
            scaled = by_flow["scaled_ann"]
            lines.append(
                f"{workload:<17} {e_rev:>5g}  {_percent(by_flow['physical']['test_accuracy_mean'])}  "
                f"{_percent(by_flow['ann']['test_accuracy_mean'])}  {_percent(scaled['test_accuracy_mean'])}     "
                f"({scaled['a_pos_mean']:.2f}, {scaled['a_neg_mean']:.2f})  {scaled['n_seeds']}"
            )
    elif name == "histograms":
        lines.append("workload          layer                         outputs   silent %  mean t   peak bin (share %)")
        for workload, layer in dict.fromkeys((r["workload"], r["layer"]) for r in rows):
            bins = [r for r in rows if r["workload"] == workload and r["layer"] == layer]
            peak = max(bins, key=lambda r: r["fraction"])
            mean_time = bins[0]["mean_spike_time"]
            lines.append(
                f"{workload:<17} {bins[0]['layer_name']:<29} {bins[0]['outputs']:>8}  "
                f"{100 * bins[0]['silent_fraction']:7.2f}  {'-' if mean_time is None else f'{mean_time:.3f}':>6}   "
                f"[{peak['bin_start']:.2f}, {peak['bin_end']:.2f}] ({100 * peak['fraction']:.1f})"
            )
    else:
        lines.append("workload          train offset  train M  eval    acc ± std   seeds")
        for r in rows:
            evaluation = "exact" if r["solver"] == "exact" else f"M={r['eval_steps']}"
            lines.append(
                f"{r['workload']:<17} {r['train_offset']:<13} {r['train_steps']:>7}  {evaluation:<6} "
                f"{_percent(r['test_accuracy_mean'])} ± {100 * r['test_accuracy_std']:4.2f}  {r['n_seeds']}"
            )
    return "\n".join(lines)
