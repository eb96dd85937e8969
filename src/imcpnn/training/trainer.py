"""Training and evaluation of spiking IMC networks (spec ``MODEL.md`` sections 5-6).

``train(config)`` writes ``OUT/metrics.json``, ``OUT/history.csv``, ``OUT/best.pt`` and
``OUT/last.pt`` (all atomically), and ``train(config, resume=True)`` continues an interrupted run
from ``OUT/last.pt``. Under ``torchrun`` it trains data-parallel (DistributedDataParallel; gloo on
CPU, NCCL on CUDA) and only rank 0 writes files.

The training step never waits for the device: the epoch's loss sum, correct count and a record of
non-finite losses are kept as device tensors (:class:`EpochTotals`) and read every
:data:`SYNC_EVERY` steps and at the epoch's end; batches are copied to a GPU from pinned memory
without blocking. ``config.precision`` picks fp32, TF32 (CUDA) or bf16 autocast
(:mod:`imcpnn.training.precision`). See ``docs/gpu.md``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data import DataSplits, augment_batch, encode_splits, load_dataset, make_loader, set_loader_epoch
from ..layers import SpikingLayer, SpikingNetwork, build_network
from ..layers.ttfs_calibration import calibrate_ttfs_init
from ..outdir import claim_output_folder
from .checkpoint import load_checkpoint, save_checkpoint, write_csv, write_json
from .config import TrainConfig
from .losses import SpikeTimeLoss, predict
from .precision import check_precision, matmul_precision, step_autocast

try:  # only for the progress bar: a machine without tqdm trains all the same, without a bar
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover - tqdm is a dependency; a bare GPU image may still lack it
    tqdm = None

EVAL_BATCH = 256
#: Steps between the reads of the epoch's running totals (the finiteness check and the progress bar):
#: each read waits for the device, so the step itself never does.
SYNC_EVERY = 50


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
    return build_network(config.arch, config.neuron)


def load_data(config: TrainConfig, model: SpikingNetwork, splits: DataSplits | None = None) -> DataSplits:
    """The data set's splits (or ``splits`` given by the caller); checks that the encoded input matches the
    network's input."""
    data = config.data
    if splits is None:
        splits = load_dataset(data.dataset, data.data_dir, seed=config.seed, val_fraction=data.val_fraction)
    if data.max_train_samples is not None and data.max_train_samples < len(splits.train):
        splits = dataclasses.replace(splits, train=_head(splits.train, data.max_train_samples))
    if data.max_eval_samples is not None:
        splits = dataclasses.replace(
            splits, val=_head(splits.val, data.max_eval_samples), test=_head(splits.test, data.max_eval_samples)
        )
    sample = encode(splits, model, splits.train[:1][0])
    if tuple(sample.shape[1:]) != tuple(model.input_shape):
        raise ValueError(
            f"the architecture {config.arch!r} expects inputs of shape {model.input_shape}, but {splits.name} "
            f"encodes to {tuple(sample.shape[1:])}; start the architecture with that size"
        )
    outputs = model.output_shape[0]
    if outputs < splits.num_classes:
        raise ValueError(f"{splits.name} has {splits.num_classes} classes but the network has {outputs} outputs")
    return splits


def _head(dataset: torch.utils.data.TensorDataset, count: int | None) -> torch.utils.data.TensorDataset:
    """The first ``count`` samples of a split (all of it for ``None`` or a larger count)."""
    if count is None or count >= len(dataset):
        return dataset
    return torch.utils.data.TensorDataset(*dataset[:count])


def encode(splits: DataSplits, model: SpikingNetwork, x: torch.Tensor) -> torch.Tensor:
    return encode_splits(splits, x, flatten=len(model.input_shape) == 1)


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``x`` on ``device``; from the CPU to a GPU through pinned memory and without blocking the host
    (a copy from pageable memory would wait for the device's queue to drain: a sync every batch)."""
    if x.device.type == "cpu" and device.type == "cuda":
        return x.pin_memory().to(device, non_blocking=True)
    return x.to(device)


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
    """The spec's cost (section 6, :class:`~imcpnn.training.losses.SpikeTimeLoss`) and the class outputs
    ``[B, num_classes]``."""
    output, layer_io = forward_layers(model, spike_times)
    loss_fn = SpikeTimeLoss(config.loss, window=config.time_window, num_classes=num_classes)
    return loss_fn(output, labels, layer_io), loss_fn.class_times(output)


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
    correct = torch.zeros((), dtype=torch.int64, device=device)  # summed on the device: one read at the end
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for start in range(0, len(dataset), batch_size):
            x, y = dataset[start : start + batch_size]
            output = model(encode(splits, model, to_device(x, device)))
            correct += (predict(output[:, : splits.num_classes]) == to_device(y, device)).sum()
    return int(correct) / len(dataset)


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


@dataclass
class _RunState:
    """What a run carries from epoch to epoch (and what ``last.pt`` restores)."""

    history: list[dict[str, Any]] = field(default_factory=list)
    epoch: int = 0
    best_score: float = -math.inf
    wall_before: float = 0.0


def _restore(
    config: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device, rank: int,
    log: Callable[[str], None],
) -> _RunState:  # fmt: skip
    """The state of an interrupted run from ``OUT/last.pt``; refuses one trained with other settings."""
    out = Path(config.out)
    if not (out / "last.pt").is_file():
        if rank == 0:
            log(f"no checkpoint in {out} to resume: starting afresh")
        return _RunState()
    state = load_checkpoint(out / "last.pt", map_location=device)
    if _resumable_part(TrainConfig.from_record(state["config"])) != _resumable_part(config):
        raise ValueError(f"--resume: {out / 'last.pt'} was trained with other settings; use another --out")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    if rank == 0:
        log(f"resuming {out} after epoch {state['epoch']}")
    return _RunState(state["history"], state["epoch"], state["best_score"], state["wall_seconds"])


def _resumable_part(config: TrainConfig) -> TrainConfig:
    """What a resumed run must share with the interrupted one: all but the epochs, the output and data
    folders, the device and the precision (how the step is computed, like the device: a run begun on a
    CPU in fp32 may go on on a GPU in tf32)."""
    return config.replace(
        out="", device="", precision="fp32", data=dataclasses.replace(config.data, data_dir=None),
        optimiser=dataclasses.replace(config.optimiser, epochs=1),
    )  # fmt: skip


class EpochTotals:
    """One epoch's running figures on one rank, kept on the device so that adding a step reads nothing back.

    :meth:`add` queues a few scalar device operations per step: the summed loss (float64), the correct
    predictions and the first non-finite loss (its step and value). :meth:`check` and :meth:`values`
    read them back (each read waits for the device): the trainer calls them every :data:`SYNC_EVERY`
    steps and at the epoch's end, never per step.
    """

    def __init__(self, device: torch.device) -> None:
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)
        self.first_bad_step = torch.full((), -1, dtype=torch.int64, device=device)  # -1: every loss finite
        self.first_bad_loss = torch.zeros((), dtype=torch.float64, device=device)
        self.seen = 0
        self.steps = 0

    def add(self, loss: torch.Tensor, class_times: torch.Tensor, labels: torch.Tensor) -> None:
        """Count one step: its mean loss over ``labels`` and its class outputs (no host-device sync)."""
        loss = loss.detach().double()
        first_bad = ~torch.isfinite(loss) & (self.first_bad_step < 0)
        self.first_bad_step = torch.where(first_bad, self.steps, self.first_bad_step)
        self.first_bad_loss = torch.where(first_bad, loss, self.first_bad_loss)
        self.loss_sum += loss * len(labels)
        self.correct += (predict(class_times.detach()) == labels).sum()
        self.seen += len(labels)
        self.steps += 1

    def check(self, description: str, out: str | Path) -> None:
        """Raise a :class:`RuntimeError` naming the last good checkpoint if a loss so far was not finite."""
        step = int(self.first_bad_step)
        if step >= 0:
            raise RuntimeError(
                f"the loss became {float(self.first_bad_loss)} at step {step + 1} of {description}; lower --lr "
                f"or check the data (the last good state is in {Path(out) / 'last.pt'})"
            )

    def values(self) -> tuple[float, int, int]:
        """``(summed loss, correct, seen)``."""
        return float(self.loss_sum), int(self.correct), self.seen


class _NoBar:
    """What the loop iterates when no progress bar is shown (no terminal, or no tqdm installed)."""

    def __init__(self, iterable: Any) -> None:
        self.iterable = iterable

    def __iter__(self) -> Any:
        return iter(self.iterable)

    def set_postfix(self, **values: Any) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(loader: Any, description: str, progress: bool) -> Any:
    """A tqdm bar over ``loader`` on a terminal (in a log file its \\r frames would pile up; the epoch
    lines remain), else the loader as it is."""
    if progress and tqdm is not None and sys.stderr.isatty():
        return tqdm(loader, desc=description, leave=False)
    return _NoBar(loader)


def _calibrate_init(
    config: TrainConfig, model: SpikingNetwork, splits: DataSplits, device: torch.device, log: Callable[[str], None]
) -> None:
    """The TTFS initialisation rescaled layer by layer on the first ``calibrate_init`` training images
    (:func:`imcpnn.layers.ttfs_calibration.calibrate_ttfs_init`); every rank computes the same scales."""
    images, _ = splits.train[: config.optimiser.calibrate_init]
    started = time.perf_counter()
    rows = calibrate_ttfs_init(model, encode(splits, model, to_device(images, device)), config.loss.t_ref)
    log(
        f"  initialisation calibrated on {len(images)} training images ({time.perf_counter() - started:.0f} s): "
        + "; ".join(
            f"layer {r.layer} median spike time {r.median_before:.2f} -> {r.median_after:.2f} (x{r.scale:.3g})"
            for r in rows
        )
    )


def train_one_epoch(
    config: TrainConfig, trained: nn.Module, model: SpikingNetwork, splits: DataSplits, loader: Any,
    optimizer: torch.optim.Optimizer, device: torch.device, augment_gen: torch.Generator, description: str,
    progress: bool,
) -> EpochTotals:  # fmt: skip
    """One pass over the loader; returns this rank's :class:`EpochTotals`, not yet read.

    Nothing in a step reads a device value back: augmentation draws from the CPU generator on the CPU
    batch, the batch goes to the device without blocking (:func:`to_device`), and the figures add up
    on the device. Every :data:`SYNC_EVERY` steps the totals are read once (a non-finite loss raises,
    the progress bar shows the running loss and accuracy); the caller checks them at the epoch's end
    (:meth:`EpochTotals.check`), before anything is saved. A non-finite loss is thus caught up to
    ``SYNC_EVERY - 1`` steps late, and the run stops with the weights of the last saved epoch in
    ``OUT/last.pt``. Under ``config.precision == "bf16"`` the forward pass and the loss run under autocast.
    """
    model.train()
    totals = EpochTotals(device)
    batches = _progress_bar(loader, description, progress)
    try:
        for x, y in batches:
            if config.data.augment:
                x = augment_batch(x, augment_gen)  # on the CPU batch, from the CPU generator
            x, y = to_device(x, device), to_device(y, device)
            with step_autocast(config.precision, device):
                loss, class_times = compute_loss(config, trained, encode(splits, model, x), y, splits.num_classes)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.optimiser.grad_clip:
                torch.nn.utils.clip_grad_norm_(trained.parameters(), config.optimiser.grad_clip)
            optimizer.step()
            totals.add(loss, class_times, y)
            if totals.steps % SYNC_EVERY == 0:
                totals.check(description, config.out)
                if not isinstance(batches, _NoBar):
                    total_loss, correct, seen = totals.values()
                    batches.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.3f}")
    finally:
        batches.close()
    return totals


def _save(
    config: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer, run: _RunState, score: float,
    wall_seconds: float,
) -> None:  # fmt: skip
    """``last.pt`` every epoch, ``best.pt`` when ``score`` improved, and ``history.csv``."""
    out = Path(config.out)
    state = {
        "config": config.to_record(),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": torch.get_rng_state(),
        "history": run.history,
        "epoch": run.epoch,
        "best_score": max(run.best_score, score),
        "wall_seconds": wall_seconds,
    }
    if score > run.best_score:
        run.best_score = score
        save_checkpoint(out / "best.pt", state)
    save_checkpoint(out / "last.pt", state)
    write_csv(out / "history.csv", run.history)


def final_metrics(
    config: TrainConfig, model: SpikingNetwork, splits: DataSplits, device: torch.device, run: _RunState,
    wall_seconds: float, world_size: int,
) -> dict[str, Any]:  # fmt: skip
    """Test, train and validation accuracy of the best model (and test accuracy of the last one), with the
    settings they were measured with (``evaluated_with``: solver, evaluation steps, spike noise)."""
    from .evaluate import evaluation_settings  # evaluate imports this module

    out = Path(config.out)
    best = load_checkpoint(out / "best.pt", map_location=device) if (out / "best.pt").is_file() else None
    last_test = evaluate_accuracy(model, splits.test, splits, device, config.seed)
    if best is not None:
        model.load_state_dict(best["model"])
    history = run.history
    train_evaluated = _head(splits.train, config.data.max_eval_samples)
    return {
        "test_accuracy": evaluate_accuracy(model, splits.test, splits, device, config.seed),
        "train_accuracy": evaluate_accuracy(model, train_evaluated, splits, device, config.seed),
        "val_accuracy": evaluate_accuracy(model, splits.val, splits, device, config.seed),
        "test_accuracy_last": last_test,
        "evaluated_with": evaluation_settings(model.config),
        "evaluated_samples": {"test": len(splits.test), "train": len(train_evaluated), "val": len(splits.val)},
        "best_epoch": best["epoch"] if best is not None else None,
        "epochs": int(config.optimiser.epochs),
        "epochs_trained": run.epoch,
        "seconds_per_epoch": (sum(r["seconds"] for r in history) / len(history)) if history else None,
        "wall_seconds": wall_seconds,
        "world_size": world_size,
        "device": str(device),
        "precision": config.precision,
        "config": config.to_record(),
    }


def _all_reduce(values: tuple[float, int, int], device: torch.device) -> tuple[float, int, int]:
    import torch.distributed as dist

    sums = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(sums)
    return float(sums[0]), int(sums[1]), int(sums[2])


def _barrier(world_size: int) -> None:
    if world_size > 1:
        import torch.distributed as dist

        dist.barrier()


def _any_rank(flag: bool, world_size: int, device: torch.device) -> bool:
    """``flag`` of any rank (all ranks get the same answer, so that they stop together)."""
    if world_size == 1:
        return flag
    import torch.distributed as dist

    value = torch.tensor(int(flag), device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value)


RUN_FILES = ("last.pt", "best.pt", "metrics.json")


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    data: DataSplits | None = None,
    time_budget: float | None = None,
) -> dict[str, Any]:
    """Train a network; returns the metrics also written to ``OUT/metrics.json``.

    ``data``: splits of one's own (e.g. :func:`imcpnn.data.load_arrays`) instead of ``config.data.dataset``.

    ``time_budget``: seconds of wall clock from this call for the whole run, its final evaluation
    included. After each epoch the run stops early when one more epoch (as long as the last one) and
    the final evaluation (estimated from the epoch's validation pass, per sample) would end past it.
    At least one epoch runs. ``metrics["epochs_trained"]`` says how many did, and a later call with
    ``resume=True`` goes on to ``config.optimiser.epochs``.

    ``OUT`` is claimed first (:func:`imcpnn.outdir.claim_output_folder`: checked writable, one process
    at a time). A folder that holds a run is never overwritten: ``resume=True`` continues it (a finished
    run is only re-evaluated), otherwise a :class:`ValueError` asks for ``--resume`` or another folder.
    """
    deadline = None
    if time_budget is not None:
        if isinstance(time_budget, bool) or not (isinstance(time_budget, (int, float)) and time_budget > 0):
            raise ValueError(f"time_budget must be a number of seconds > 0; got {time_budget!r}")
        deadline = time.perf_counter() + time_budget
    rank, world_size = _distributed()
    if rank != 0:
        return _train(config, resume, progress, log, rank, world_size, data, deadline)
    with claim_output_folder(config.out):
        held = [name for name in RUN_FILES if (Path(config.out) / name).exists()]
        if held and not resume:
            raise ValueError(
                f"{config.out} already holds a run ({', '.join(held)}); continue it with --resume, or give "
                "another --out (nothing was changed)"
            )
        return _train(config, resume, progress, log, rank, world_size, data, deadline)


def _train(
    config: TrainConfig, resume: bool, progress: bool, log: Callable[[str], None], rank: int, world_size: int,
    data: DataSplits | None, deadline: float | None,
) -> dict[str, Any]:  # fmt: skip
    device = resolve_device(config.device)
    if device.type == "cuda" and world_size > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    check_precision(config.precision, device)
    with matmul_precision(config.precision, device):
        return _run(config, resume, progress, log, rank, world_size, data, deadline, device)


def _run(
    config: TrainConfig, resume: bool, progress: bool, log: Callable[[str], None], rank: int, world_size: int,
    data: DataSplits | None, deadline: float | None, device: torch.device,
) -> dict[str, Any]:  # fmt: skip
    """The run itself, on a resolved ``device`` under the config's matrix-product precision."""
    torch.manual_seed(config.seed)
    model = build_model(config).to(device)
    splits = load_data(config, model, data)
    if config.optimiser.calibrate_init and not resume:
        _calibrate_init(config, model, splits, device, log if rank == 0 else lambda _: None)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.optimiser.lr)
    run = _restore(config, model, optimizer, device, rank, log) if resume else _RunState()

    trained: nn.Module = model
    if world_size > 1:
        trained = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    loader = make_loader(
        splits.train, config.data.batch_size, shuffle=True, seed=config.seed, num_replicas=world_size, rank=rank
    )
    augment_gen = torch.Generator().manual_seed(config.seed + 7919 * (rank + 1))
    epochs = int(config.optimiser.epochs)
    started = time.perf_counter()
    train_evaluated = len(_head(splits.train, config.data.max_eval_samples))
    final_samples = 2 * len(splits.test) + train_evaluated + len(splits.val)  # what final_metrics evaluates
    for epoch in range(run.epoch, epochs):
        epoch_start = time.perf_counter()
        set_loader_epoch(loader, epoch)
        augment_gen.manual_seed(config.seed + 7919 * (rank + 1) + epoch)
        description = f"epoch {epoch + 1}/{epochs}"
        totals = train_one_epoch(
            config, trained, model, splits, loader, optimizer, device, augment_gen, description,
            progress and rank == 0,
        )  # fmt: skip
        totals.check(description, config.out)
        sums = totals.values()
        total_loss, correct, seen = _all_reduce(sums, device) if world_size > 1 else sums
        final_seconds = 0.0  # the final evaluation's estimated time (rank 0 evaluates)
        if rank == 0:
            val_start = time.perf_counter()
            val_accuracy = evaluate_accuracy(model, splits.val, splits, device, config.seed)
            final_seconds = (time.perf_counter() - val_start) / max(len(splits.val), 1) * final_samples
            row = {
                "epoch": epoch + 1,
                "train_loss": total_loss / max(seen, 1),
                "train_accuracy_running": correct / max(seen, 1),
                "val_accuracy": val_accuracy,
                "seconds": time.perf_counter() - epoch_start,
            }
            run.history.append(row)
            run.epoch = epoch + 1
            score = row["val_accuracy"] if len(splits.val) else row["train_accuracy_running"]
            _save(config, model, optimizer, run, score, run.wall_before + time.perf_counter() - started)
            log(
                f"epoch {epoch + 1:>3}/{epochs}  loss {row['train_loss']:.4f}  "
                f"train(running) {row['train_accuracy_running']:.4f}  val {row['val_accuracy']:.4f}  "
                f"{row['seconds']:.1f} s"
            )
        _barrier(world_size)
        if deadline is not None and epoch + 1 < epochs:
            now = time.perf_counter()
            if _any_rank(now + (now - epoch_start) + final_seconds > deadline, world_size, device):
                if rank == 0:
                    log(
                        f"stopping after epoch {epoch + 1}/{epochs}: one more ({now - epoch_start:.1f} s) and the "
                        f"final evaluation (~{final_seconds:.0f} s) would end past the time budget"
                    )
                break

    metrics: dict[str, Any] = {}
    if rank == 0:
        wall = run.wall_before + time.perf_counter() - started
        metrics = final_metrics(config, model, splits, device, run, wall, world_size)
        write_json(Path(config.out) / "metrics.json", metrics)
    _barrier(world_size)
    return metrics


def load_trained_model(checkpoint: str | Path, device: str = "cpu") -> tuple[SpikingNetwork, TrainConfig]:
    """The network (in evaluation mode) and config of a checkpoint written by :func:`train`."""
    state = load_checkpoint(checkpoint, map_location=resolve_device(device))
    try:
        config = TrainConfig.from_record(state["config"])
    except (ValueError, TypeError) as error:
        raise ValueError(f"{checkpoint}: its training settings cannot be read ({error})") from error
    model = build_model(config)
    model.load_state_dict(state["model"])
    return model.to(resolve_device(device)).eval(), config
