"""``imcpnn train`` and ``imcpnn eval``: thin layers over :mod:`imcpnn.training`."""

from __future__ import annotations

import argparse
import json
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


def run_train(args: argparse.Namespace) -> int:
    from ..training import train

    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be an integer >= 1; got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    config = config_from_args(args)
    metrics = train(config, resume=args.resume, progress=not args.no_progress)
    if metrics:
        print(
            f"test accuracy {metrics['test_accuracy']:.4f}  train accuracy {metrics['train_accuracy']:.4f}  "
            f"({metrics['epochs']} epochs, {metrics['wall_seconds']:.1f} s; {Path(config.out)})"
        )
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from ..training import evaluate_checkpoint
    from ..training.config import e_rev_values

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
        do_scale_search=args.scale_search,
        full_grid=args.full_grid,
        device=args.device,
        data_dir=args.data_dir,
    )
    evaluated = result.evaluated_with
    print(
        f"E+ {evaluated.params.e_rev_pos:g}  E- {evaluated.params.e_rev_neg:g}  "
        f"eval steps {evaluated.steps_for(training=False)}  spike noise {evaluated.spike_noise:g}:  "
        f"test accuracy {result.test_accuracy:.4f}"
    )
    if result.scaled is not None:
        scaled = result.scaled
        print(
            f"scaled (a+ {scaled.a_pos:.1f}, a- {scaled.a_neg:.1f}, searched on {scaled.searched_on}): "
            f"test accuracy {scaled.test_accuracy:.4f}"
        )
    if args.json:
        from ..training.checkpoint import write_json

        write_json(args.json, result.to_dict())
    else:
        print(json.dumps(result.to_dict(with_grid=False), indent=2))
    return 0


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
        "another |E±| (the top-down flow); --scale-search adds the scaled ANN (grid over a+, a-).",
    )
    eval_parser.add_argument("checkpoint", type=Path)
    eval_parser.add_argument("--e-rev", type=float, nargs="+", metavar="E", help="|E±| or the pair E+ E-")
    eval_parser.add_argument("--eval-steps", type=int)
    eval_parser.add_argument("--spike-noise", type=float)
    eval_parser.add_argument("--scale-search", action="store_true", help="scaled ANN: search (a+, a-), step 0.1")
    eval_parser.add_argument(
        "--full-grid", action="store_true", help="search the whole 0.1..3.0 grid (900 points), not coarse-to-fine"
    )
    eval_parser.add_argument("--data-dir")
    eval_parser.add_argument("--device", default="cpu")
    eval_parser.add_argument("--json", type=Path, help="write the result (with the scale grid) to this file")
    eval_parser.set_defaults(func=run_eval)
