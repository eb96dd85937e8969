"""Training-step time on CPU: the digits MLP (64-100-10) and one VGG7 conv layer (C64 -> C64, 32x32).

One step = forward, a cross-entropy on the negated output spike times, backward and an Adam update,
RC-Spike, |E±| = 2, DSTD M = 4 with a random offset (the training path). Uses only the API that
existed before the restructure (``build_network``), so the same script measures both versions:

    PYTHONPATH=<checkout>/src python scripts/bench_step_time.py --threads 1 --json FILE

Prints the median and the fastest of ``--repeats`` timed steps after ``--warmup`` untimed ones.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def step_times(arch: str, input_shape: tuple[int, ...], batch: int, warmup: int, repeats: int) -> list[float]:
    from imcpnn.layers import build_network

    torch.manual_seed(0)
    network = build_network(arch, e_rev_pos=2.0, steps=4).train()
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    inputs = torch.rand(batch, *input_shape)
    labels = torch.randint(0, 10, (batch,))
    times = []
    for k in range(warmup + repeats):
        started = time.perf_counter()
        output = network(inputs)
        flat = output.flatten(1)[:, :10]
        loss = torch.nn.functional.cross_entropy(-flat / 0.2, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if k >= warmup:
            times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases = {
        "digits MLP 64-100-10, batch 32": ("64-100-10", (64,), 32),
        "VGG7 conv layer C64->C64 on 32x32, batch 16": ("64x32x32:C64", (64, 32, 32), 16),
    }
    results = {}
    for name, (arch, shape, batch) in cases.items():
        repeats = args.repeats if "MLP" in name else max(5, args.repeats // 3)
        times = step_times(arch, shape, batch, args.warmup if "MLP" in name else 2, repeats)
        results[name] = {"median_ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times), "steps": repeats}
        print(f"{name}: median {results[name]['median_ms']:.2f} ms, fastest {results[name]['min_ms']:.2f} ms "
              f"({repeats} steps, {args.threads} thread(s))")  # fmt: skip
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"threads": args.threads, "cases": results}, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
