"""``imcpnn experiment NAME``: the paper's experiments (a CSV and a PNG each), thin over :mod:`imcpnn.experiments`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .commands import COMMANDS

if TYPE_CHECKING:
    from ..experiments import ExperimentOptions
    from ..training import TrainConfig

ALL = "all"


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..experiments import EXPERIMENT_REGISTRY, PRESETS

    experiments = "; ".join(f"{e.name}: {e.description}" for e in EXPERIMENT_REGISTRY.values())
    parser = subparsers.add_parser(
        "experiment",
        help=COMMANDS["experiment"].help,
        description="Train (with a cache under --out: re-running resumes), evaluate, and write NAME.csv and "
        f"NAME.png. {experiments}; {ALL}: every one, sharing trained models.",
        epilog="presets: " + "; ".join(f"{p.name}: {p.description} [needs {p.needs}]" for p in PRESETS.values()),
    )
    parser.add_argument("name", choices=[*EXPERIMENT_REGISTRY, ALL], help="which experiment")
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
    from ..experiments import EXPERIMENT_REGISTRY, ExperimentOptions
    from ..outdir import claim_output_folder

    options = ExperimentOptions(
        device=args.device, data_dir=args.data_dir, seeds=args.seeds, epochs=args.epochs, progress=args.progress
    )
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1; got {args.threads}")
    _set_threads(args)
    out = args.out or Path("runs/experiments") / args.preset
    names = tuple(EXPERIMENT_REGISTRY) if args.name == ALL else (args.name,)
    if args.dry_run:
        return _dry_run(args.preset, options, names, out)
    with claim_output_folder(out):  # checked writable, and no second process mixes its runs into it
        for name in names:
            experiment = EXPERIMENT_REGISTRY[name]
            started = time.perf_counter()
            rows = experiment.function(args.preset, out, options)
            files = ", ".join(str(out / file) for file in experiment.output_files)
            print(f"\n{name}: {files} ({time.perf_counter() - started:.1f} s)")
            print(experiment.format_rows(rows))
    return 0


def _set_threads(args: argparse.Namespace) -> None:
    """The quick preset's tensors are tiny: torch's intra-op threads only add overhead, and on a busy
    2-core machine they made a digits epoch 7x slower (54 s against 7.5 s wall), so it runs on one."""
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    elif args.preset == "quick" and args.device == "cpu":
        torch.set_num_threads(1)


def _dry_run(preset: str, options: ExperimentOptions, names: tuple[str, ...], out: Path) -> int:
    from ..experiments import EXPERIMENT_REGISTRY
    from ..training import build_model

    built: set[tuple[str, str]] = set()
    distinct: dict[str, int] = {}
    for name in names:
        configs = {c.out: c for c in EXPERIMENT_REGISTRY[name].planned_runs(preset, out, options)}
        cached = sum((Path(folder) / "metrics.json").is_file() for folder in configs)
        epochs = sum(c.optimiser.epochs for c in configs.values())
        print(f"{name}: {len(configs)} trainings ({cached} already done), {epochs} epochs in all")
        for config in configs.values():
            distinct[config.out] = config.optimiser.epochs
            print(f"  {_describe(config)}  -> {config.out}")
            key = (config.neuron.family, config.arch)
            if key not in built:
                network = build_model(config)
                parameters = sum(p.numel() for p in network.parameters())
                print(f"    network {network.input_shape} -> {network.output_shape}: {parameters:,} weights")
                built.add(key)
    if len(names) > 1:
        print(f"together: {len(distinct)} distinct trainings, {sum(distinct.values())} epochs (shared runs once)")
    return 0


def _describe(config: TrainConfig) -> str:
    """One line of a planned training's settings."""
    neuron, params = config.neuron, config.neuron.params
    return (
        f"{config.data.dataset} {neuron.family} {config.arch}  E± {params.e_rev_pos:g}/{params.e_rev_neg:g}  "
        f"M {neuron.steps} ({'random' if neuron.random_offset else 'fixed'})  seed {config.seed}  "
        f"{config.optimiser.epochs} epochs, batch {config.data.batch_size}, lr {config.optimiser.lr:g}"
    )
