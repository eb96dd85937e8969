"""``imcpnn demo``: the main job on bundled data (what ``make demo`` runs)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="membrane traces exact vs DSTD, and DSTD's end-potential error against M",
        description="Plots neurons driven by 1000 random input spikes (exact vs DSTD, M = 3 and 10, "
        "|E±| = 1, 2, 10) and prints DSTD's mean end-potential error for M = 4 .. 64.",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default runs/demo)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..benchmarks.accuracy import end_potential_errors, format_error_table, plot_membrane_traces

    start = time.perf_counter()
    png = plot_membrane_traces(args.out / "membrane_traces.png")
    print(f"membrane traces (exact vs DSTD M=3, 10; |E±| = 1, 2, 10): {png}")
    errors = end_potential_errors((1.0, 2.0, 10.0), (4, 8, 16, 32, 64))
    print("\nDSTD end-potential error |v_dstd(1) - v_exact(1)|, mean over 100 samples x 100 neurons,")
    print("1000 inputs uniform in [0, 1], weights N(0, (2/sqrt(1000))^2), float64, offset 0:")
    print(format_error_table(errors))
    print(f"\ndemo finished in {time.perf_counter() - start:.1f} s")
    return 0
