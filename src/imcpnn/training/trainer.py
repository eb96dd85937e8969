"""Training and evaluation of spiking IMC networks (spec ``MODEL.md`` sections 5-6).

``train(config)`` writes ``OUT/metrics.json``, ``OUT/history.csv``, ``OUT/best.pt`` and
``OUT/last.pt`` (all atomically), and ``train(config, resume=True)`` continues an interrupted run
from ``OUT/last.pt``. Under ``torchrun`` it trains data-parallel (DistributedDataParallel; gloo on
CPU, NCCL on CUDA) and only rank 0 writes files.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ..data import DataSplits, augment_batch, encode_inputs, load_dataset, make_loader, set_loader_epoch
from ..layers import SpikingLayer, SpikingNetwork, build_network
from . import losses
from .checkpoint import load_checkpoint, save_checkpoint, write_csv, write_json
from .config import TrainConfig

EVAL_BATCH = 256


def resolve_device(device: str) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N``, with a clear error when CUDA is asked for and absent."""
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available here; use --device cpu")
    return resolved


def build_model(config: TrainConfig) -> SpikingNetwork:
    """The network of a (resolved) config."""
    return build_network(config.arch or "", config.neuron_config())


def load_data(config: TrainConfig, model: SpikingNetwork) -> DataSplits:
    """The data set's splits; checks that the encoded input matches the network's input."""
    splits = load_dataset(config.dataset, config.data_dir, seed=config.seed, val_fraction=config.val_fraction)
    if config.max_train_samples is not None and config.max_train_samples < len(splits.train):
        subset = splits.train[: config.max_train_samples]
        splits = dataclasses.replace(splits, train=torch.utils.data.TensorDataset(*subset))
    sample = encode_inputs(splits.name, splits.train[:1][0], flatten=len(model.input_shape) == 1)
    if tuple(sample.shape[1:]) != tuple(model.input_shape):
        raise ValueError(
            f"the architecture {config.arch!r} expects inputs of shape {model.input_shape}, but {splits.name} "
            f"encodes to {tuple(sample.shape[1:])}; start the architecture with that size"
        )
    outputs = model.output_shape[0]
    if outputs < splits.num_classes:
        raise ValueError(f"{splits.name} has {splits.num_classes} classes but the network has {outputs} outputs")
    return splits


def encode(splits: DataSplits, model: SpikingNetwork, x: torch.Tensor) -> torch.Tensor:
    return encode_inputs(splits.name, x, flatten=len(model.input_shape) == 1)


def forward_layers(
    model: nn.Module, spike_times: torch.Tensor
) -> tuple[torch.Tensor, list[tuple[SpikingLayer, torch.Tensor, torch.Tensor]]]:
    """Output spike times and ``(layer, input, output)`` of every neuron layer.

    The model's own forward runs (DDP needs it for gradient synchronisation); forward hooks record
    each neuron layer's input and output.
    """
    network = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    records: list[tuple[SpikingLayer, torch.Tensor, torch.Tensor]] = []
    hooks = [
        layer.register_forward_hook(lambda m, i, o: records.append((m, i[0], o))) for layer in network.spiking_layers()
    ]
    try:
        output = model(spike_times)
    finally:
        for hook in hooks:
            hook.remove()
    return output, records


def compute_loss(
    config: TrainConfig, model: nn.Module, spike_times: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The spec's cost (section 6) and the class outputs ``[B, num_classes]``."""
    output, layer_io = forward_layers(model, spike_times)
    window = config.time_window
    class_times = losses.finite_times(output[:, :num_classes], window)
    loss = losses.spike_time_cross_entropy(class_times, labels, config.tau_soft)
    if config.gamma_temporal:
        loss = loss + config.gamma_temporal * losses.temporal_penalty(class_times, float(config.t_ref))
    if config.gamma_q:
        loss = loss - config.gamma_q * losses.firing_regulariser(layer_io)
    if config.weight_l2:
        loss = loss + config.weight_l2 * losses.weight_l2([layer for layer, _, _ in layer_io])
    if config.early_spike_penalty:
        times = [losses.finite_times(out, window) for _, _, out in layer_io]
        loss = loss + config.early_spike_penalty * losses.early_spike_penalty(times)
    return loss, class_times


@torch.no_grad()
def evaluate_accuracy(
    model: SpikingNetwork,
    dataset: torch.utils.data.Dataset,
    splits: DataSplits,
    device: torch.device,
    seed: int = 0,
    batch_size: int = EVAL_BATCH,
) -> float:
    """Accuracy in evaluation mode (offset 0, ``eval_steps``). Spike noise, if set, is drawn from a
    generator seeded with ``seed``, so the figure is reproducible and the training RNG is untouched."""
    if len(dataset) == 0:
        return math.nan
    model.eval()
    correct = 0
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for start in range(0, len(dataset), batch_size):
            x, y = dataset[start : start + batch_size]
            output = model(encode(splits, model, x.to(device)))
            correct += int((losses.predict(output[:, : splits.num_classes]) == y.to(device)).sum())
    return correct / len(dataset)


def _distributed() -> tuple[int, int]:
    """``(rank, world_size)``; initialises the process group under torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and os.environ.get("IMCPNN_BACKEND") != "gloo" else "gloo"
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def train(
    config: TrainConfig, *, resume: bool = False, progress: bool = True, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Train a network; returns the metrics also written to ``OUT/metrics.json``."""
    config = config.resolved()
    rank, world_size = _distributed()
    device = resolve_device(config.device)
    if device.type == "cuda" and world_size > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    out = Path(config.out)
    torch.manual_seed(config.seed)
    model = build_model(config).to(device)
    splits = load_data(config, model)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    history: list[dict[str, Any]] = []
    start_epoch, best_score, wall_before = 0, -math.inf, 0.0

    if resume and (out / "last.pt").is_file():
        state = load_checkpoint(out / "last.pt", map_location=device)
        saved = TrainConfig(**state["config"])
        same = {"epochs": config.epochs, "out": config.out, "device": config.device, "data_dir": config.data_dir}
        if dataclasses.replace(saved, **same) != config:
            raise ValueError(f"--resume: {out / 'last.pt'} was trained with other settings; use another --out")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        history, start_epoch = state["history"], state["epoch"]
        best_score, wall_before = state["best_score"], state["wall_seconds"]
        if rank == 0:
            log(f"resuming {out} after epoch {start_epoch}")
    elif resume and rank == 0:
        log(f"no checkpoint in {out} to resume: starting afresh")

    trained = model
    if world_size > 1:
        trained = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    loader = make_loader(
        splits.train, config.batch_size, shuffle=True, seed=config.seed, num_replicas=world_size, rank=rank
    )
    augment_gen = torch.Generator().manual_seed(config.seed + 7919 * (rank + 1))
    started = time.perf_counter()
    for epoch in range(start_epoch, int(config.epochs)):
        epoch_start = time.perf_counter()
        set_loader_epoch(loader, epoch)
        augment_gen.manual_seed(config.seed + 7919 * (rank + 1) + epoch)
        model.train()
        total_loss, correct, seen = 0.0, 0, 0
        batches = tqdm(
            loader, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress or rank != 0, leave=False
        )
        for x, y in batches:
            x, y = x.to(device), y.to(device)
            if config.augment:
                x = augment_batch(x.cpu(), augment_gen).to(device)
            loss, class_times = compute_loss(config, trained, encode(splits, model, x), y, splits.num_classes)
            if not torch.isfinite(loss):
                raise RuntimeError(
                    f"the loss became {float(loss)} in epoch {epoch + 1}; lower --lr or check the data "
                    f"(the last good state is in {out / 'last.pt'})"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(trained.parameters(), config.grad_clip)
            optimizer.step()
            total_loss += float(loss.detach()) * len(y)
            correct += int((losses.predict(class_times) == y).sum())
            seen += len(y)
            batches.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.3f}")
        if world_size > 1:
            import torch.distributed as dist

            sums = torch.tensor([total_loss, correct, seen], dtype=torch.float64, device=device)
            dist.all_reduce(sums)
            total_loss, correct, seen = float(sums[0]), int(sums[1]), int(sums[2])
        row = {
            "epoch": epoch + 1,
            "train_loss": total_loss / max(seen, 1),
            "train_accuracy_running": correct / max(seen, 1),
            "val_accuracy": math.nan,
            "seconds": 0.0,
        }
        if rank == 0:
            row["val_accuracy"] = evaluate_accuracy(model, splits.val, splits, device, config.seed)
            row["seconds"] = time.perf_counter() - epoch_start
            history.append(row)
            score = row["val_accuracy"] if len(splits.val) else row["train_accuracy_running"]
            state = {
                "config": dataclasses.asdict(config),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "rng": torch.get_rng_state(),
                "history": history,
                "epoch": epoch + 1,
                "best_score": max(best_score, score),
                "wall_seconds": wall_before + time.perf_counter() - started,
            }
            if score > best_score:
                best_score = score
                save_checkpoint(out / "best.pt", state)
            save_checkpoint(out / "last.pt", state)
            write_csv(out / "history.csv", history)
            log(
                f"epoch {epoch + 1:>3}/{config.epochs}  loss {row['train_loss']:.4f}  "
                f"train(running) {row['train_accuracy_running']:.4f}  val {row['val_accuracy']:.4f}  "
                f"{row['seconds']:.1f} s"
            )
        if world_size > 1:
            import torch.distributed as dist

            dist.barrier()

    metrics: dict[str, Any] = {}
    if rank == 0:
        wall = wall_before + time.perf_counter() - started
        best = load_checkpoint(out / "best.pt", map_location=device) if (out / "best.pt").is_file() else None
        last_test = evaluate_accuracy(model, splits.test, splits, device, config.seed)
        if best is not None:
            model.load_state_dict(best["model"])
        metrics = {
            "test_accuracy": evaluate_accuracy(model, splits.test, splits, device, config.seed),
            "train_accuracy": evaluate_accuracy(model, splits.train, splits, device, config.seed),
            "val_accuracy": evaluate_accuracy(model, splits.val, splits, device, config.seed),
            "test_accuracy_last": last_test,
            "best_epoch": best["epoch"] if best is not None else None,
            "epochs": int(config.epochs),
            "seconds_per_epoch": (sum(r["seconds"] for r in history) / len(history)) if history else None,
            "wall_seconds": wall,
            "world_size": world_size,
            "device": str(device),
            "config": dataclasses.asdict(config),
        }
        write_json(out / "metrics.json", metrics)
    if world_size > 1:
        import torch.distributed as dist

        dist.barrier()
    return metrics


def load_trained_model(checkpoint: str | Path, device: str = "cpu") -> tuple[SpikingNetwork, TrainConfig]:
    """The network (in evaluation mode) and config of a checkpoint written by :func:`train`."""
    state = load_checkpoint(checkpoint, map_location=resolve_device(device))
    config = TrainConfig(**state["config"])
    model = build_model(config)
    model.load_state_dict(state["model"])
    return model.to(resolve_device(device)).eval(), config
