"""``imcpnn train`` and ``imcpnn eval``: thin layers over :mod:`imcpnn.training`."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from .commands import COMMANDS


def _add_train_flags(parser: argparse.ArgumentParser) -> None:
    from ..training.flags import add_train_flags

    parser.add_argument("--config", type=Path, help="TOML file with the same settings as the flags (flags win)")
    add_train_flags(parser)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--threads", type=int, help="CPU threads for torch (default: torch's choice; 1 is fastest on a busy machine)"
    )


def config_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~imcpnn.training.TrainConfig` of the flags, over the TOML file's settings when given."""
    from ..training import TrainConfig
    from ..training.flags import flags_from_args, read_toml

    settings = read_toml(args.config) if args.config is not None else {}
    settings.update(flags_from_args(args))
    return TrainConfig.from_flags(**settings)


def evaluated_with(metrics: dict[str, Any], config: Any) -> dict[str, Any]:
    """The settings the trainer's accuracies were measured with: ``metrics["evaluated_with"]`` when the
    trainer wrote it, else the run's own evaluation settings (its solver, evaluation steps, spike noise)."""
    from ..training.evaluate import evaluation_settings

    recorded = metrics.get("evaluated_with")
    return dict(recorded) if isinstance(recorded, dict) else evaluation_settings(config.neuron)


def run_train(args: argparse.Namespace) -> int:
    from ..training import train
    from ..training.evaluate import describe_evaluation

    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be an integer >= 1; got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    config = config_from_args(args)
    if config.characterization is not None:
        source = config.characterization
        print(
            f"training with {source.path} (from {source.made_from}, sha256 {source.sha256[:12]}...): "
            f"E+ = {source.e_rev_pos:.4f}, E- = {source.e_rev_neg:.4f}, β_dis = {source.beta_dis:.4f}"
        )
    metrics = train(config, resume=args.resume, progress=not args.no_progress)
    if metrics:
        how = describe_evaluation(evaluated_with(metrics, config))
        print(
            f"test accuracy {metrics['test_accuracy']:.4f} ({how})  train accuracy {metrics['train_accuracy']:.4f}  "
            f"({metrics['epochs']} epochs, {metrics['wall_seconds']:.1f} s; {Path(config.out)})"
        )
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from ..training import evaluate_checkpoint
    from ..training.config import e_rev_values
    from ..training.evaluate import describe_evaluation, evaluation_settings

    e_pos, e_neg = e_rev_values(args.e_rev) if args.e_rev else (None, None)
    if args.json is not None:  # checked before the evaluation, so that its result is never lost
        from ..outdir import check_output_file

        check_output_file(args.json)
    result = evaluate_checkpoint(
        args.checkpoint,
        e_rev_pos=e_pos,
        e_rev_neg=e_neg,
        eval_steps=args.eval_steps,
        spike_noise=args.spike_noise,
        solver=args.solver,
        do_scale_search=args.scale_search,
        full_grid=args.full_grid,
        device=args.device,
        data_dir=args.data_dir,
    )
    evaluated, params = result.evaluated_with, result.evaluated_with.params
    how = f"{describe_evaluation(evaluation_settings(evaluated))}, E+ {params.e_rev_pos:g}, E- {params.e_rev_neg:g}"
    print(f"test accuracy {result.test_accuracy:.4f} ({how})")
    if result.scaled is not None:
        scaled = result.scaled
        print(
            f"scaled (a+ {scaled.a_pos:.1f}, a- {scaled.a_neg:.1f}, searched on {scaled.searched_on}): "
            f"test accuracy {scaled.test_accuracy:.4f} ({how})"
        )
    if args.json:
        from ..training.checkpoint import write_json

        write_json(args.json, result.to_dict())
    else:
        print(json.dumps(result.to_dict(with_grid=False), indent=2))
    return 0


def _spike_noise(text: str) -> float:
    """``--spike-noise``: a finite σ >= 0 (an argparse error otherwise)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(
            f"must be a finite number >= 0 (σ of the spike-time noise; 0: none); got {text!r}"
        )
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    train_parser = subparsers.add_parser(
        "train", help=COMMANDS["train"].help, description="Train an RC-Spike or TTFS network with DSTD."
    )
    _add_train_flags(train_parser)
    train_parser.set_defaults(func=run_train)

    eval_parser = subparsers.add_parser(
        "eval",
        help=COMMANDS["eval"].help,
        description="Evaluate a checkpoint as the hardware would run it. --e-rev maps a model trained at "
        "another |E±| (the top-down flow); --scale-search adds the scaled ANN (grid over a+, a-). By default "
        "the accuracy is measured as the run was trained (its spike noise, DSTD at its evaluation steps); "
        "--spike-noise 0 and --solver exact change that, and the printed line says which was used.",
    )
    eval_parser.add_argument("checkpoint", type=Path)
    eval_parser.add_argument("--e-rev", type=float, nargs="+", metavar="E", help="|E±| or the pair E+ E-")
    eval_parser.add_argument("--eval-steps", type=int, help="DSTD steps M in evaluation (default: the run's)")
    eval_parser.add_argument(
        "--spike-noise",
        type=_spike_noise,
        metavar="S",
        help="σ of the spike-time noise in evaluation; 0: noise-free (default: the run's training σ, as the paper)",
    )
    eval_parser.add_argument(
        "--solver",
        choices=("dstd", "exact"),
        help="dstd, or exact: the event-driven solution, no DSTD grid, slow, no --eval-steps (default: the run's)",
    )
    eval_parser.add_argument("--scale-search", action="store_true", help="scaled ANN: search (a+, a-), step 0.1")
    eval_parser.add_argument(
        "--full-grid", action="store_true", help="search the whole 0.1..3.0 grid (900 points), not coarse-to-fine"
    )
    eval_parser.add_argument("--data-dir")
    eval_parser.add_argument("--device", default="cpu")
    eval_parser.add_argument("--json", type=Path, help="write the result (with the scale grid) to this file")
    eval_parser.set_defaults(func=run_eval)
