"""Layer-by-layer firing of the TTFS CNN while it trains (issue 11: why the Fashion-MNIST TTFS CNN does not learn).

Trains the Fashion-MNIST TTFS preset (``1x28x28:C16-C16-P-C32-C32-P-128-10``) on the first ``--train``
training images with the trainer's own step (loss, surrogate, clipping, Adam), and every ``--every`` steps
measures on a fixed probe batch (``--probe`` images from the end of the training file, never trained on),
in evaluation mode (DSTD at the training ``M``, no spike-time noise):

- per neuron layer: the fraction of neurons that stay silent, and the median spike time of those that fire;
- the output layer: the fraction of images whose label neuron is silent, and whose outputs are all silent;
- accuracy by the hardware's decision (first output spike; silent = the window's end, ties to the lowest
  index) and by the surrogate's (the loss's class times, which rank silent outputs by ``v(T)``);
- the loss (cross-entropy on the probe batch).

Writes one CSV row per probe (``--out``, resumable only by rerunning: it is a diagnostic) and prints it.

    PYTHONPATH=src python scripts/ttfs_cnn_firing.py --data-dir /usr/share/datasets/fashion-mnist \
        --train 4000 --steps 250 --every 25 --out runs/ttfs_cnn/firing-lr2e-4.csv
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch

from imcpnn.layers.ttfs_calibration import calibrate_ttfs_init
from imcpnn.training import TrainConfig
from imcpnn.training.losses import SpikeTimeLoss, finite_times
from imcpnn.training.trainer import build_model, encode, forward_layers, load_data


def probe(config: TrainConfig, model, splits, images, labels, loss_fn) -> dict[str, float]:
    """The firing statistics of one probe batch, evaluation mode, no gradient."""
    model.eval()
    with torch.no_grad():
        output, layer_io = forward_layers(model, encode(splits, model, images))
        class_times = finite_times(output[:, : splits.num_classes], config.time_window)
        surrogate = loss_fn.class_times(output, layer_io)
        row: dict[str, float] = {
            "loss": float(loss_fn(output, labels, layer_io)),
            "acc_hardware": float((class_times.argmin(dim=1) == labels).float().mean()),
            "acc_surrogate": float((surrogate.argmin(dim=1) == labels).float().mean()),
        }
        out = output[:, : splits.num_classes]
        silent = ~torch.isfinite(out)
        row["label_silent"] = float(silent.gather(1, labels[:, None]).float().mean())
        row["all_outputs_silent"] = float(silent.all(dim=1).float().mean())
        for index, (_, _, times) in enumerate(layer_io, start=1):
            fired = torch.isfinite(times)
            row[f"l{index}_silent"] = float(1.0 - fired.float().mean())
            row[f"l{index}_median_t"] = float(times[fired].median()) if fired.any() else float("nan")
    model.train()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the four Fashion-MNIST IDX files")
    parser.add_argument("--train", type=int, default=4000, help="training images (the first N)")
    parser.add_argument("--probe", type=int, default=256, help="probe images (the last N of the training file)")
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: the preset's)")
    parser.add_argument("--e-rev", type=float, default=None, help="|E±| (default: the preset's)")
    parser.add_argument("--tau-soft", type=float, default=None, help="softmax temperature (default: the preset's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--calibrate-init", type=int, default=0, metavar="N",
        help="rescale the TTFS initialisation layer by layer on the first N training images "
        "(imcpnn.layers.ttfs_calibration; 0: the paper's initialisation as it is)",
    )  # fmt: skip
    parser.add_argument("--gamma-q", type=float, default=None, help="γ2 of the Q regulariser (default: the preset's)")
    parser.add_argument(
        "--silent-hidden-penalty", type=float, default=None, help="ρ of the dead-hidden-neuron penalty (default 0)"
    )
    parser.add_argument("--out", type=Path, required=True, help="CSV to write (refused if it exists)")
    args = parser.parse_args()
    if args.out.exists():
        raise SystemExit(f"{args.out} exists; choose another --out")
    torch.set_num_threads(1)
    flags: dict[str, object] = {"data_dir": args.data_dir, "max_train_samples": args.train + args.probe}
    for name in ("lr", "e_rev", "tau_soft", "gamma_q", "silent_hidden_penalty"):
        if getattr(args, name) is not None:
            flags[name] = getattr(args, name)
    config = TrainConfig.from_flags(dataset="fashion-mnist", model="ttfs", seed=args.seed, val_fraction=0.0, **flags)
    torch.manual_seed(args.seed)
    model = build_model(config)
    splits = load_data(config, model)
    images, labels = splits.train[: args.train + args.probe]
    train_x, train_y = images[: args.train], labels[: args.train]
    probe_x, probe_y = images[args.train :], labels[args.train :]
    if args.calibrate_init:
        for row in calibrate_ttfs_init(model, encode(splits, model, train_x[: args.calibrate_init]), config.loss.t_ref):
            print(row)
    loss_fn = SpikeTimeLoss(config.loss, window=config.time_window, num_classes=splits.num_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.optimiser.lr)
    generator = torch.Generator().manual_seed(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(
        f"lr {config.optimiser.lr:g}, |E±| {config.neuron.params.e_rev_pos:g}, tau_soft {config.loss.tau_soft:g}, "
        f"gamma_q {config.loss.gamma_q:g}, surrogate {config.loss.silent_surrogate:g}, "
        f"clip {config.optimiser.grad_clip}"
    )
    writer = None
    started = time.perf_counter()
    with args.out.open("w", newline="") as handle:
        step = 0
        while step <= args.steps:
            if step % args.every == 0:
                row = {"step": step, "seconds": round(time.perf_counter() - started, 1)}
                row.update(probe(config, model, splits, probe_x, probe_y, loss_fn))
                if writer is None:
                    writer = csv.DictWriter(handle, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow(row)
                handle.flush()
                print(", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
            if step == args.steps:
                break
            batch = torch.randint(0, args.train, (config.data.batch_size,), generator=generator)
            output, layer_io = forward_layers(model, encode(splits, model, train_x[batch]))
            loss = loss_fn(output, train_y[batch], layer_io)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.optimiser.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.optimiser.grad_clip)
            optimizer.step()
            step += 1


if __name__ == "__main__":
    main()
