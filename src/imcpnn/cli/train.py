"""``imcpnn train`` and ``imcpnn eval``: thin layers over :mod:`imcpnn.training`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _e_rev_pair(values: list[float] | None) -> tuple[float | None, float | None]:
    """``--e-rev 2`` -> ``(2, -2)``; ``--e-rev 2.8 -1.53`` -> ``(2.8, -1.53)``."""
    if not values:
        return None, None
    if len(values) == 1:
        return abs(values[0]), -abs(values[0])
    if len(values) == 2:
        return values[0], values[1]
    raise ValueError(f"--e-rev takes one value (symmetric |E±|) or two (E+ E-); got {len(values)}")


def _add_train_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--config", type=Path, help="TOML file with the same settings as the flags (flags win)")
    add("--dataset", help="iris, digits, fashion-mnist or cifar10 (default digits)")
    add("--model", choices=["rcspike", "ttfs"], help="neuron family (default rcspike)")
    add("--arch", help="architecture string, e.g. 64-100-10 or 3x32x32:C64-C64-P-512-10 (default: per data set)")
    add("--e-rev", type=float, nargs="+", metavar="E", help="|E±| (symmetric) or the pair E+ E- (default 2)")
    add("--beta-dis", type=float, help="discharger non-ideality β_dis in [0, 1) (default 0)")
    add("--solver", choices=["dstd", "exact"], help="solver in training (default dstd)")
    add("--steps", type=int, help="DSTD steps M in training (default 4)")
    add("--offset", choices=["random", "fixed"], help="DSTD grid offset in training (default random)")
    add("--eval-steps", type=int, help="DSTD steps in evaluation (default 30 RC-Spike, 60 TTFS)")
    add("--window", type=float, help="TTFS time window (default 4)")
    add("--epochs", type=int)
    add("--batch-size", type=int)
    add("--lr", type=float, help="Adam learning rate")
    add("--spike-noise", type=float, help="σ of the spike-time noise on every layer (default 0.01)")
    add("--tau-soft", type=float, help="softmax temperature τ_soft of the loss")
    add("--gamma-temporal", type=float, help="weight γ1 of the temporal penalty")
    add("--t-ref", type=float, help="reference time of the temporal penalty")
    add("--gamma-q", type=float, help="weight γ2 of the TTFS firing regulariser")
    add("--weight-l2", type=float, help="weight of the L2 penalty on the weights")
    add("--early-spike-penalty", type=float, help="weight of Σ (t - 1)² over all layers")
    add("--grad-clip", type=float, help="clip the gradient's global L2 norm to this value (default: no clip)")
    add("--augment", action=argparse.BooleanOptionalAction, default=None, help="CIFAR-10 augmentation")
    add("--max-train-samples", type=int, help="train on the first N training samples only")
    add("--data-dir", help="folder of the data set files")
    add("--seed", type=int)
    add("--device", help="cpu, cuda or cuda:N (default cpu)")
    add("--out", help="output folder (default runs/train)")
    add("--resume", action="store_true", help="continue from OUT/last.pt")
    add("--no-progress", action="store_true", help="no progress bar")
    add("--threads", type=int, help="CPU threads for torch (default: torch's choice; 1 is fastest on a busy machine)")


def config_from_args(args: argparse.Namespace) -> Any:
    from ..training import TrainConfig

    e_pos, e_neg = _e_rev_pair(args.e_rev)
    flags = {
        "dataset": args.dataset,
        "model": args.model,
        "arch": args.arch,
        "e_rev_pos": e_pos,
        "e_rev_neg": e_neg,
        "beta_dis": args.beta_dis,
        "solver": args.solver,
        "steps": args.steps,
        "eval_steps": args.eval_steps,
        "window": args.window,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "spike_noise": args.spike_noise,
        "tau_soft": args.tau_soft,
        "gamma_temporal": args.gamma_temporal,
        "t_ref": args.t_ref,
        "gamma_q": args.gamma_q,
        "weight_l2": args.weight_l2,
        "early_spike_penalty": args.early_spike_penalty,
        "augment": args.augment,
        "grad_clip": args.grad_clip,
        "max_train_samples": args.max_train_samples,
        "data_dir": args.data_dir,
        "seed": args.seed,
        "device": args.device,
        "out": args.out,
        "random_offset": None if args.offset is None else args.offset == "random",
    }
    if args.config is not None:
        return TrainConfig.from_toml(args.config, **flags)
    return TrainConfig(**{k: v for k, v in flags.items() if v is not None})


def run_train(args: argparse.Namespace) -> int:
    from ..training import train

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    config = config_from_args(args)
    metrics = train(config, resume=args.resume, progress=not args.no_progress)
    if metrics:
        print(
            f"test accuracy {metrics['test_accuracy']:.4f}  train accuracy {metrics['train_accuracy']:.4f}  "
            f"({metrics['epochs']} epochs, {metrics['wall_seconds']:.1f} s; {Path(metrics['config']['out'])})"
        )
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from ..training import evaluate_checkpoint

    e_pos, e_neg = _e_rev_pair(args.e_rev)
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
    settings = result["evaluated_with"]
    print(
        f"E+ {settings['e_rev_pos']:g}  E- {settings['e_rev_neg']:g}  eval steps {settings['eval_steps']}  "
        f"spike noise {settings['spike_noise']:g}:  test accuracy {result['test_accuracy']:.4f}"
    )
    if args.scale_search:
        scales = result["scales"]
        print(
            f"scaled (a+ {scales['a_pos']:.1f}, a- {scales['a_neg']:.1f}, searched on {scales['searched_on']}): "
            f"test accuracy {result['scaled_test_accuracy']:.4f}"
        )
    if args.json:
        from ..training.checkpoint import write_json

        write_json(args.json, result)
    else:
        result.pop("scale_grid", None)
        print(json.dumps(result, indent=2))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    train_parser = subparsers.add_parser(
        "train", help="train a spiking IMC network", description="Train an RC-Spike or TTFS network with DSTD."
    )
    _add_train_flags(train_parser)
    train_parser.set_defaults(func=run_train)

    eval_parser = subparsers.add_parser(
        "eval",
        help="re-evaluate a checkpoint (other E±, DSTD steps, spike noise; scaled-ANN search)",
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
