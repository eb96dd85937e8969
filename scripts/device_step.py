"""The Python half of ``scripts/device-check.sh``: a machine's modules, the training step's speed, DSTD's
error under each precision, a training run within a time budget, and the merged report.

Run from the repository root with the package on the path (the shell script does this)::

    PYTHONPATH=src python3 scripts/device_step.py env    --json env.json
    PYTHONPATH=src python3 scripts/device_step.py bench  --device cuda --batches 32 256 --json bench.json
    PYTHONPATH=src python3 scripts/device_step.py train  --device cuda --dataset fashion-mnist \\
        --arch 1x28x28:C64-C64-P-C128-C128-P-C256-C256-P-512-10 --e-rev 1.3 --budget 300 --json train.json
    PYTHONPATH=src python3 scripts/device_step.py report --parts env.json bench.json train.json --json all.json

``bench`` times the trainer's own step (:func:`imcpnn.training.trainer.train_one_epoch`: forward and
loss, under the precision's autocast, backward, Adam) on random inputs of the architecture's shape that
already lie on the device: images/s, ms per step and the peak GPU memory, per batch size and precision.
It leaves out what feeding real data costs (the host-to-device copy, CIFAR-10's CPU augmentation).
``train`` calls :func:`imcpnn.training.train` with ``time_budget`` (checkpoints every epoch, as always).
Each part writes one JSON object; a part that fails writes ``{"error": ...}`` and exits non-zero, so
the others still run.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if importlib.util.find_spec("imcpnn") is None:  # run from a checkout without an install
    sys.path.insert(0, str(ROOT / "src"))

CIFAR_VGG7 = "3x32x32:C64-C64-P-C128-C128-P-C256-C256-P-512-10"
#: Modules a training run imports: the first three are needed, tqdm only draws the progress bar.
REQUIRED_MODULES = {"torch": "PyTorch", "numpy": "NumPy", "sklearn": "scikit-learn (imcpnn.data imports it)"}
OPTIONAL_MODULES = {"tqdm": "progress bars only", "scipy": "the circuit tools only (scikit-learn needs it too)"}


def _write(path: str | None, record: dict[str, Any], shown: dict[str, Any] | None = None) -> None:
    """Print ``shown`` (default: ``record``) and write ``record`` to ``path``."""
    print(json.dumps(record if shown is None else shown, indent=1), flush=True)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(record, indent=1) + "\n")


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------------------------------
# env


def machine() -> dict[str, Any]:
    """Python, PyTorch, CUDA and the GPU, and which of the modules a run needs are importable."""
    found = {name: importlib.util.find_spec(name) is not None for name in {**REQUIRED_MODULES, **OPTIONAL_MODULES}}
    record: dict[str, Any] = {
        "python": platform.python_version(), "cpu_count": os.cpu_count(), "modules": found,
        "missing_required": [REQUIRED_MODULES[n] for n in REQUIRED_MODULES if not found[n]],
    }  # fmt: skip
    if found["torch"]:
        import torch

        record.update(torch=torch.__version__, cuda_available=torch.cuda.is_available(), cuda=torch.version.cuda)
        if torch.cuda.is_available():
            properties = torch.cuda.get_device_properties(0)
            record.update(
                gpu_name=torch.cuda.get_device_name(0), gpu_count=torch.cuda.device_count(),
                gpu_memory_bytes=properties.total_memory, gpu_capability=f"{properties.major}.{properties.minor}",
                bf16_supported=torch.cuda.is_bf16_supported(),
            )  # fmt: skip
    return record


# --------------------------------------------------------------------------------------------------
# bench: the training step, and DSTD's error under each precision


def _random_splits(input_shape: tuple[int, ...], num_classes: int) -> Any:
    """Splits that only name the encoding and the classes (the step's batches come from elsewhere)."""
    import torch
    from torch.utils.data import TensorDataset

    from imcpnn.data import DataSplits

    empty = TensorDataset(torch.zeros(0, *input_shape), torch.zeros(0, dtype=torch.long))
    classes = tuple(str(k) for k in range(num_classes))
    return DataSplits("random", empty, empty, empty, num_classes, input_shape, classes, encoding="image")


def measure_step(
    arch: str, batch: int, precision: str, device: Any, *, steps: int, seconds: float, warmup: int = 3
) -> dict[str, Any]:
    """Images/s of the trainer's step on random ``[batch, *input]`` intensities already on ``device``."""
    import torch

    from imcpnn.training import TrainConfig, build_model
    from imcpnn.training.precision import check_precision, matmul_precision
    from imcpnn.training.trainer import train_one_epoch

    check_precision(precision, device)
    config = TrainConfig.from_flags(
        dataset="cifar10", arch=arch, steps=steps, batch_size=batch, augment=False, device=str(device),
        precision=precision, out="unused",
    )  # fmt: skip
    torch.manual_seed(0)
    model = build_model(config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.optimiser.lr)
    num_classes = model.output_shape[0]
    splits = _random_splits(tuple(model.input_shape), num_classes)
    x = torch.rand(batch, *model.input_shape, device=device)
    y = torch.randint(0, num_classes, (batch,), device=device)
    generator = torch.Generator()

    def run(count: int) -> float:
        started = time.perf_counter()
        totals = train_one_epoch(config, model, model, splits, [(x, y)] * count, optimizer, device, generator,
                                 "bench", False)  # fmt: skip
        totals.check("the benchmark", "(no checkpoint)")  # reads the totals: waits for the device
        _sync(device)
        return time.perf_counter() - started

    with matmul_precision(precision, device):
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        first = run(warmup) / warmup
        count = int(min(max(seconds / max(first, 1e-6), 5), 500))
        elapsed = run(count)
    record = {
        "arch": arch, "batch": batch, "precision": precision, "dstd_steps": steps, "timed_steps": count,
        "step_ms": 1e3 * elapsed / count, "images_per_s": batch * count / elapsed,
        "first_steps_ms": 1e3 * first,
    }  # fmt: skip
    if device.type == "cuda":
        record["peak_memory_bytes"] = torch.cuda.max_memory_allocated(device)
    return record


def dstd_errors(device: Any, precisions: list[str], *, steps: int = 10) -> list[dict[str, Any]]:
    """Mean |v_end(DSTD, M = steps) - v_end(exact, float64)| of a random 1000-input RC-Spike layer (100 x 100
    outputs) under each precision, with the mean |v_end| for scale and the difference to fp32 DSTD."""
    import torch

    from imcpnn import functional as fn
    from imcpnn.benchmarks.accuracy import random_layer
    from imcpnn.training.precision import matmul_precision, step_autocast

    times64, weight64 = random_layer(100, 1000, 100, seed=0)
    times, weight = times64.float().to(device), weight64.float().to(device)
    rows = []
    for e_rev in (2.0, 10.0):
        kw = {"e_rev_pos": e_rev, "e_rev_neg": -e_rev}
        exact = fn.rc_spike_potential(times64, weight64, **kw)
        reference = None
        for precision in precisions:
            with matmul_precision(precision, device), step_autocast(precision, device):
                dstd = fn.rc_spike_potential(times, weight, method="dstd", steps=steps, **kw)
            dtype, dstd = str(dstd.dtype), dstd.double().cpu()
            reference = dstd if precision == "fp32" else reference
            rows.append({
                "e_rev": e_rev, "precision": precision, "steps": steps, "dtype": dtype,
                "error_vs_exact": float((dstd - exact).abs().mean()), "mean_abs_potential": float(exact.abs().mean()),
                "difference_to_fp32": None if reference is None else float((dstd - reference).abs().mean()),
                "finite": bool(torch.isfinite(dstd).all()),
            })  # fmt: skip
    return rows


def bench(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from imcpnn.training.trainer import resolve_device

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    precisions = [p for p in args.precisions if device.type == "cuda" or p != "tf32"]  # tf32 is CUDA's
    record: dict[str, Any] = {"device": str(device), "steps": [], "dstd_error": None}
    for batch in args.batches:
        for precision in precisions:
            try:
                row = measure_step(args.arch, batch, precision, device, steps=args.steps, seconds=args.seconds)
            except torch.cuda.OutOfMemoryError as error:
                row = {"arch": args.arch, "batch": batch, "precision": precision, "error": f"out of memory: {error}"}
                torch.cuda.empty_cache()
            record["steps"].append(row)
            print(json.dumps(row), flush=True)
    record["dstd_error"] = dstd_errors(device, precisions)
    return record


# --------------------------------------------------------------------------------------------------
# train: a run within a time budget


def train_run(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from torch.utils.data import TensorDataset

    from imcpnn.data import load_dataset
    from imcpnn.training import TrainConfig, train
    from imcpnn.training.trainer import resolve_device

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    config = TrainConfig.from_flags(
        dataset=args.dataset, arch=args.arch, e_rev=args.e_rev, data_dir=args.data_dir, epochs=args.epochs,
        max_train_samples=args.max_train_samples, batch_size=args.batch_size, device=args.device,
        precision=args.precision, seed=args.seed, out=args.out,
    )  # fmt: skip
    resume = (Path(args.out) / "last.pt").is_file()  # a folder from an earlier check on this machine goes on
    started = time.perf_counter()
    data = config.data
    splits = load_dataset(data.dataset, data.data_dir, seed=config.seed, val_fraction=data.val_fraction)
    if args.max_eval_samples:  # a smoke test's shortcut: the first N validation and test samples
        cut = slice(0, args.max_eval_samples)
        splits = dataclasses.replace(splits, val=TensorDataset(*splits.val[cut]), test=TensorDataset(*splits.test[cut]))
    train_samples = min(len(splits.train), data.max_train_samples or len(splits.train))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    budget = args.budget - (time.perf_counter() - started)  # the data's loading counts
    metrics = train(config, resume=resume, progress=False, log=lambda line: print(line, flush=True), data=splits,
                    time_budget=max(budget, 1.0))  # fmt: skip
    record = {
        key: metrics.get(key)
        for key in ("test_accuracy", "train_accuracy", "val_accuracy", "seconds_per_epoch", "epochs_trained",
                    "epochs", "wall_seconds", "device", "precision", "evaluated_with")
    }  # fmt: skip
    params = config.neuron.params
    record.update(
        dataset=data.dataset, arch=config.arch, e_rev=[params.e_rev_pos, params.e_rev_neg],
        batch_size=data.batch_size, train_samples=train_samples, out=args.out, resumed=resume,
        eval_samples={"val": len(splits.val), "test": len(splits.test)}, call_seconds=time.perf_counter() - started,
        budget_seconds=args.budget,
    )  # fmt: skip
    if metrics.get("seconds_per_epoch"):  # an epoch's seconds include its validation pass
        record["train_images_per_s"] = train_samples / metrics["seconds_per_epoch"]
    if device.type == "cuda":
        record["peak_memory_bytes"] = torch.cuda.max_memory_allocated(device)
    return record


# --------------------------------------------------------------------------------------------------
# report


def report(args: argparse.Namespace) -> dict[str, Any]:
    """The parts' objects under their names (file stems), plus a headline of the main figures."""
    merged: dict[str, Any] = {"mode": args.mode, "wall_seconds": args.wall_seconds}
    for path in args.parts:
        name = Path(path).stem
        try:
            merged[name] = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            merged[name] = {"error": f"no result ({error})"}
    env, bench_part, train_part = merged.get("env", {}), merged.get("bench", {}), merged.get("train", {})
    merged["headline"] = {
        "gpu_name": env.get("gpu_name"), "torch": env.get("torch"), "python": env.get("python"),
        "images_per_s": {f"batch {r['batch']} {r['precision']}": round(r["images_per_s"], 1)
                         for r in bench_part.get("steps", []) if "images_per_s" in r},
        "peak_memory_gib": {f"batch {r['batch']} {r['precision']}": round(r["peak_memory_bytes"] / 2**30, 2)
                            for r in bench_part.get("steps", []) if "peak_memory_bytes" in r},
        "train_test_accuracy": train_part.get("test_accuracy"),
        "train_seconds_per_epoch": train_part.get("seconds_per_epoch"),
        "train_epochs": train_part.get("epochs_trained"),
        "train_peak_memory_gib": (round(train_part["peak_memory_bytes"] / 2**30, 2)
                                  if train_part.get("peak_memory_bytes") else None),
    }  # fmt: skip
    return merged


# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="part", required=True)
    env_parser = sub.add_parser("env", help="Python, PyTorch, the GPU and the modules a run needs")
    bench_parser = sub.add_parser("bench", help="images/s of the training step, and DSTD's error per precision")
    bench_parser.add_argument("--arch", default=CIFAR_VGG7)
    bench_parser.add_argument("--batches", type=int, nargs="+", default=[32, 256])
    bench_parser.add_argument("--precisions", nargs="+", default=["fp32", "tf32", "bf16"])
    bench_parser.add_argument("--steps", type=int, default=4, help="DSTD steps M in training")
    bench_parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per case (about)")
    train_parser = sub.add_parser("train", help="a training run within a time budget")
    train_parser.add_argument("--dataset", default="fashion-mnist")
    train_parser.add_argument("--arch", default="1x28x28:C64-C64-P-C128-C128-P-C256-C256-P-512-10")
    train_parser.add_argument("--e-rev", type=float, nargs="+", default=[1.3])
    train_parser.add_argument("--data-dir")
    train_parser.add_argument("--epochs", type=int, default=100, help="at most this many (the budget decides)")
    train_parser.add_argument("--budget", type=float, required=True, help="seconds for the run, evaluation included")
    train_parser.add_argument("--max-train-samples", type=int)
    train_parser.add_argument("--max-eval-samples", type=int, help="validate and test on the first N only (smoke)")
    train_parser.add_argument("--batch-size", type=int)
    train_parser.add_argument("--precision", default="fp32")
    train_parser.add_argument("--seed", type=int, default=0)
    train_parser.add_argument("--out", default="runs/device-check/fmnist-vgg7")
    report_parser = sub.add_parser("report", help="merge the parts' JSON files")
    report_parser.add_argument("--parts", nargs="+", required=True)
    report_parser.add_argument("--mode", default="gpu")
    report_parser.add_argument("--wall-seconds", type=float)
    for part in (env_parser, bench_parser, train_parser, report_parser):
        part.add_argument("--json", help="also write the result to this file")
    for part in (bench_parser, train_parser):
        part.add_argument("--device", default="cuda")
        part.add_argument("--threads", type=int, default=max(1, min(8, os.cpu_count() or 1)), help="CPU threads")
    args = parser.parse_args(argv)
    parts = {"env": lambda a: machine(), "bench": bench, "train": train_run, "report": report}
    try:
        record = parts[args.part](args)
    except Exception as error:  # a part's failure is its result: the other parts still run
        traceback.print_exc()
        _write(args.json, {"error": f"{type(error).__name__}: {error}"})
        return 1
    if args.part == "report":  # the parts were printed as they ran: the headline and the failures
        errors = {name: part["error"] for name, part in record.items() if isinstance(part, dict) and "error" in part}
        _write(args.json, record, {"headline": record["headline"], "errors": errors})
    else:
        _write(args.json, record)
    if args.part == "env" and record["missing_required"]:
        print(f"missing modules: {', '.join(record['missing_required'])}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
