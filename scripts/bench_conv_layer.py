"""One RC-Spike conv layer's training work against its stacked convolution (issue 12's conv target).

For each (channels, size): the layer's forward + backward (input and weight gradients) through the
training path (:func:`imcpnn.kernels.rc_spike_times_conv2d`, DSTD, random-offset grid: ``K = M + 1``)
against the bound, the one ``conv2d`` of ``[B K, C, H, W]`` soft spikes with the stacked ``[2 C, C, 3, 3]``
weight, forward + backward, in NHWC (the layout the layer uses) and in NCHW. Median of ``--repeats``
after two warm-up calls, in this process. Prints a table and writes JSON (``--json``, never overwritten).

    PYTHONPATH=src python scripts/bench_conv_layer.py --threads 1 --json runs/bench/conv_layer.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from imcpnn import kernels
from imcpnn.params import NeuronParams, SolverSettings

CASES = ((64, 32), (64, 16), (128, 16), (256, 8))


def median_ms(fn, repeats: int) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1e3


def measure(channels: int, size: int, batch: int, steps: int, repeats: int) -> dict[str, float | int]:
    generator = torch.Generator().manual_seed(0)
    times = torch.rand(batch, channels, size, size, generator=generator).requires_grad_()
    weight = (torch.randn(channels, channels, 3, 3, generator=generator) * 0.05).requires_grad_()
    params = NeuronParams(e_rev_pos=2.0, e_rev_neg=-2.0, leak=0.0, beta_dis=0.0, threshold=1.0, window=1.0)
    solver = SolverSettings(method="dstd", steps=steps, offset=0.137)

    def layer() -> None:
        kernels.rc_spike_times_conv2d(times, weight, params, solver).sum().backward()

    def bound(layout: torch.memory_format):
        soft = torch.rand(batch * (steps + 1), channels, size, size, generator=generator)
        soft = soft.contiguous(memory_format=layout).requires_grad_()
        stacked = torch.randn(2 * channels, channels, 3, 3, generator=generator) * 0.05
        stacked = stacked.contiguous(memory_format=layout).requires_grad_()

        def run() -> None:
            F.conv2d(soft, stacked, padding=1).sum().backward()

        return run

    layer_ms = median_ms(layer, repeats)
    nhwc_ms = median_ms(bound(torch.channels_last), repeats)
    nchw_ms = median_ms(bound(torch.contiguous_format), repeats)
    return {
        "channels": channels, "size": size, "batch": batch, "steps": steps, "intervals": steps + 1,
        "layer_ms": layer_ms, "bound_nhwc_ms": nhwc_ms, "bound_nchw_ms": nchw_ms,
        "layer_over_bound": layer_ms / nhwc_ms, "layer_over_nchw_bound": layer_ms / nchw_ms,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=4, help="DSTD's M (K = M + 1 intervals)")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="a new file for the figures")
    args = parser.parse_args(argv)
    if args.json is not None and args.json.exists():
        parser.error(f"--json {args.json} exists; give a new file (figures are never overwritten)")
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    print(f"{'C':>4} {'HxW':>6} {'layer ms':>9} {'NHWC conv ms':>12} {'NCHW conv ms':>12} {'layer/bound':>11}")
    for channels, size in CASES:
        row = measure(channels, size, args.batch, args.steps, args.repeats)
        rows.append(row)
        print(
            f"{channels:>4} {size:>3}x{size:<2} {row['layer_ms']:>9.1f} {row['bound_nhwc_ms']:>12.1f} "
            f"{row['bound_nchw_ms']:>12.1f} {row['layer_over_bound']:>11.2f}"
        )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "machine": {"processor": platform.processor() or platform.machine(), "torch": torch.__version__,
                        "threads": torch.get_num_threads()},
            "cases": rows,
        }  # fmt: skip
        args.json.write_text(json.dumps(record, indent=2))
        print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
