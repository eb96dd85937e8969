"""``imcpnn demo``: the main job on bundled data (what ``make demo`` runs)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .commands import COMMANDS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help=COMMANDS["demo"].help,
        description="Plots neurons driven by 1000 random input spikes (exact vs DSTD, M = 3 and 10, "
        "|E±| = 1, 2, 10), prints DSTD's mean end-potential error for M = 4 .. 64, then trains an RC-Spike "
        "MLP on digits at |E±| = 2 and an ideal one at |E±| = 100, and compares the physical model with the "
        "ideal one mapped to |E±| = 2, with and without the scaled-ANN search, and ends with a short circuit "
        "check: the 5-5-5 Iris network, ANN-to-IMC against PNN-to-IMC, model against ngspice on a few test "
        "samples. Trained models and simulations are kept in OUT and reused by the next run.",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default runs/demo)")
    parser.add_argument(
        "--circuit-samples", type=int, default=3, help="Iris test samples simulated in ngspice (default 3; 0 skips)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..benchmarks.accuracy import end_potential_errors, format_error_table, plot_membrane_traces
    from ..outdir import claim_output_folder

    start = time.perf_counter()
    with claim_output_folder(args.out):  # checked writable, and refused while another process writes it
        png = plot_membrane_traces(args.out / "membrane_traces.png")
        print(f"membrane traces (exact vs DSTD M=3, 10; |E±| = 1, 2, 10): {png}")
        errors = end_potential_errors((1.0, 2.0, 10.0), (4, 8, 16, 32, 64))
        print("\nDSTD end-potential error |v_dstd(1) - v_exact(1)|, mean over 100 samples x 100 neurons,")
        print("1000 inputs uniform in [0, 1], weights N(0, (2/sqrt(1000))^2), float64, offset 0:")
        print(format_error_table(errors))
        _topdown_against_bottomup(args.out)
        if args.circuit_samples:
            _circuit_check(args.out / "circuit", args.circuit_samples)
    print(f"\ndemo finished in {time.perf_counter() - start:.1f} s")
    return 0


def _topdown_against_bottomup(out: Path, e_rev: float = 2.0) -> None:
    """The quick preset end to end: the physical model trained at ``e_rev`` against the ideal model
    (trained at the family's ideal ``|E±|``, 100) mapped to ``e_rev``, without and with the scaled-ANN search."""
    from ..families import get_family
    from ..training import TrainConfig, evaluate_checkpoint, train

    ideal_e_rev = get_family("rcspike").ideal_e_rev
    common = {"dataset": "digits", "model": "rcspike", "arch": "64-100-10", "steps": 4, "epochs": 8, "seed": 1}
    print("\nTraining the RC-Spike MLP 64-100-10 on digits (8 epochs, DSTD M=4, random offsets):")
    physical = train(
        TrainConfig.from_flags(**common, e_rev=e_rev, out=str(out / f"digits_erev{e_rev:g}")),
        resume=True,
        progress=False,
    )
    print(f"\nTraining the ideal model at |E±| = {ideal_e_rev:g}:")
    ideal = train(
        TrainConfig.from_flags(**common, e_rev=ideal_e_rev, out=str(out / f"digits_erev{ideal_e_rev:g}")),
        resume=True,
        progress=False,
    )
    mapped = evaluate_checkpoint(out / f"digits_erev{ideal_e_rev:g}" / "best.pt", e_rev_pos=e_rev, do_scale_search=True)
    scaled = mapped.scaled
    if scaled is None:
        raise RuntimeError("the scale search returned no result")
    rows = [
        (f"PNN: trained at |E±| = {e_rev:g}", physical["test_accuracy"]),
        (f"ANN: trained at |E±| = {ideal_e_rev:g}, run at {e_rev:g}", mapped.test_accuracy),
        (f"scaled ANN (a+ {scaled.a_pos:.1f}, a- {scaled.a_neg:.1f}), run at {e_rev:g}", scaled.test_accuracy),
        (f"(ideal model at its own |E±| = {ideal_e_rev:g})", ideal["test_accuracy"]),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"\nDigits test accuracy at |E±| = {e_rev:g} (evaluation M = 30, spike noise 0.01):")
    for name, accuracy in rows:
        print(f"  {name:<{width}}  {100 * accuracy:6.2f} %")


def _circuit_check(out: Path, samples: int) -> None:
    """A short model-against-SPICE comparison of both mapping flows (the full one: ``imcpnn circuit compare``)."""
    from ..circuit import quick_compare
    from ..circuit.spice import SpiceToolMissingError

    print(f"\nCircuit check: 5-5-5 Iris network in sky130/ngspice, {samples} test samples (cached in {out}):")
    try:
        result = quick_compare(out, samples=samples, log=lambda message: print(f"  {message}"))
    except SpiceToolMissingError as error:
        print(f"  skipped: {error}")
        return
    print(f"\nOutput spike-time RMSE, model against SPICE, over {result.n_samples} samples:")
    print(f"  ANN-to-IMC (ideal model mapped)      {result.ann_to_imc:7.2f} ns")
    print(f"  PNN-to-IMC (physical model mapped)   {result.pnn_to_imc:7.2f} ns")
    ratio = "n/a (PNN-to-IMC RMSE is 0)" if result.ratio is None else f"{result.ratio:.1f}"
    print(f"  ratio {ratio}; report: {result.report}")
