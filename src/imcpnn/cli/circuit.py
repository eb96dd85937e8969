"""``imcpnn circuit ...``: the sky130/ngspice co-simulation (docs/circuit.md).

- ``imcpnn circuit characterize --out DIR``: device sweeps, λ fits, ``DIR/characterization.json``.
- ``imcpnn circuit compare --samples N --out DIR``: ANN-to-IMC against PNN-to-IMC, ``DIR/report.json``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .commands import COMMANDS

if TYPE_CHECKING:
    from imcpnn.circuit import IrisModels


def register(subparsers: Any) -> None:
    """Add the ``circuit`` command and its ``characterize`` and ``compare`` subcommands."""
    parser = subparsers.add_parser(
        "circuit",
        help=COMMANDS["circuit"].help,
        description="Characterise the sky130 devices and compare the RC-Spike model with SPICE "
        "(needs ngspice and the sky130 models; `make install` provides both).",
    )
    commands = parser.add_subparsers(dest="circuit_command", metavar="SUBCOMMAND", required=True)

    char = commands.add_parser(
        "characterize",
        help="DC sweeps of the synapse and discharger transistors; λN, λP, λdis, E±, β_dis",
        description="Writes DIR/characterization.json and DIR/iv_curves.png (a few seconds).",
    )
    char.add_argument("--out", type=Path, required=True, help="output folder")
    char.add_argument("--corner", default="tt", choices=("tt", "ss", "ff", "sf", "fs"), help="process corner")
    char.set_defaults(func=run_characterize)

    comp = commands.add_parser(
        "compare",
        help="spike-time RMSE of ANN-to-IMC and PNN-to-IMC mapping, model against SPICE",
        description="Trains (or loads) the ideal and the physical 5-5-5 Iris networks, searches the current "
        "scales on calibration samples, simulates N test samples and writes DIR/report.json, "
        "DIR/spike_time_histogram.png and DIR/worst_sample_waveforms.png. Resumable: rerun "
        "with the same --out to continue an interrupted run.",
    )
    comp.add_argument("--out", type=Path, required=True, help="output folder")
    comp.add_argument("--samples", type=int, default=50, help="test samples to simulate (default 50)")
    comp.add_argument(
        "--calibration",
        type=int,
        default=10,
        help="calibration samples (training split) for the scale search (default 10)",
    )
    comp.add_argument(
        "--weights",
        type=Path,
        help="an .npz with ann_0, ann_1, pnn_0, pnn_1 ([N_out, N_in] each), calibration_times "
        "and test_times ([N, 5]) instead of training the networks",
    )
    comp.add_argument(
        "--characterization",
        type=Path,
        help="a characterization.json to use (default: DIR/characterization.json, made if absent)",
    )
    comp.add_argument("--workers", type=int, default=None, help="parallel simulations (default: CPU count)")
    comp.add_argument("--timeout", type=float, default=600.0, help="per-sample ngspice timeout, s (default 600)")
    comp.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    comp.add_argument(
        "--scale-ann",
        type=float,
        nargs=2,
        metavar=("A_POS", "A_NEG"),
        help="use these ANN-to-IMC current scales instead of searching them",
    )
    comp.add_argument(
        "--scale-pnn", type=float, metavar="A", help="use this PNN-to-IMC current scale instead of searching it"
    )
    comp.set_defaults(func=run_compare)


def run_characterize(args: argparse.Namespace) -> int:
    from imcpnn.circuit import CircuitConfig, characterize

    config = CircuitConfig(corner=args.corner)
    char = characterize(args.out, config)
    print(
        f"λN = {char.lambda_n:.4f} /V (R² >= {char.r2_n:.5f}), λP = {char.lambda_p:.4f} /V (R² >= {char.r2_p:.5f}), "
        f"λdis = {char.lambda_dis:.4f} /V (R² = {char.r2_dis:.5f})"
    )
    print(
        f"E+ = {char.e_rev_pos:.3f}, E- = {char.e_rev_neg:.3f}, E_dis = {char.e_dis:.3f}, "
        f"β_dis = {char.beta_dis:.4f}; C_eff = {char.c_eff_f * 1e15:.1f} fF, "
        f"effective Vswitch = {char.details['v_switch_effective']:.4f} V"
    )
    ns = config.t_circ * 1e9
    ramp = [
        (row["t_circuit"] - row["t_model"]) * ns for row in char.details["firing_ramp"] if row["t_circuit"] is not None
    ]
    if ramp:
        print(
            f"firing ramp, circuit - model (synapses off, {len(ramp)} potentials): "
            + ", ".join(f"{d:+.2f}" for d in ramp)
            + " ns"
        )
    print(f"wrote {args.out / 'characterization.json'} and {args.out / 'iv_curves.png'}")
    return 0


def _load_weights(path: Path) -> IrisModels:
    """The ``--weights`` file: both weight sets and the samples (no labels, no training accuracies)."""
    from imcpnn.circuit import IrisModels

    if not path.exists():
        raise FileNotFoundError(f"--weights {path} does not exist")
    with np.load(path) as data:
        arrays = {key: np.asarray(data[key]) for key in data.files}
    needed = {"calibration_times", "test_times"}
    missing = sorted(needed - set(arrays))
    ann = [arrays[f"ann_{k}"] for k in range(len(arrays)) if f"ann_{k}" in arrays]
    pnn = [arrays[f"pnn_{k}"] for k in range(len(arrays)) if f"pnn_{k}" in arrays]
    if missing or not ann or not pnn:
        raise ValueError(
            f"--weights {path} needs ann_0.., pnn_0.., calibration_times and test_times; it has {sorted(arrays)}"
        )
    return IrisModels(ann, pnn, arrays["calibration_times"], arrays["test_times"])


def run_compare(args: argparse.Namespace) -> int:
    from imcpnn.circuit import (
        ANN_TO_IMC,
        PNN_TO_IMC,
        CircuitConfig,
        ScaleSearchOptions,
        compare,
        load_or_characterize,
        prepare_run_folder,
        train_iris_models,
    )

    if args.samples < 1 or args.calibration < 1:
        raise ValueError(f"--samples and --calibration must be >= 1; got {args.samples}, {args.calibration}")
    config = CircuitConfig()
    out: Path = prepare_run_folder(args.out, config)
    characterization = load_or_characterize(out, config, args.characterization)
    if args.weights is not None:
        models = _load_weights(args.weights)
    else:
        models = train_iris_models(
            out, characterization.e_rev_pos, characterization.e_rev_neg, characterization.beta_dis, seed=args.seed,
            n_calibration=args.calibration,
        )  # fmt: skip
    fixed: dict[str, tuple[float, float]] = {}
    if args.scale_ann is not None:
        fixed[ANN_TO_IMC] = (args.scale_ann[0], args.scale_ann[1])
    if args.scale_pnn is not None:
        fixed[PNN_TO_IMC] = (args.scale_pnn, args.scale_pnn)
    report = compare(
        out, ann_weights=models.ann_weights, pnn_weights=models.pnn_weights,
        calibration_times=np.asarray(models.calibration_times)[: args.calibration],
        test_times=np.asarray(models.test_times)[: args.samples], characterization=characterization, config=config,
        workers=args.workers, timeout_s=args.timeout, search=ScaleSearchOptions(fixed_scales=fixed),
        test_labels=models.test_labels,
        extra={"training_test_accuracy": models.test_accuracy} if models.test_accuracy else None,
    )  # fmt: skip
    data = report.to_dict()
    ratio = report.ratio
    print(json.dumps({"rmse_ns": data["rmse_ns"], "scales": data["scales"], "n_samples": report.n_samples}, indent=1))
    print(
        f"ANN-to-IMC RMSE {report.flow(ANN_TO_IMC).rmse_ns:.2f} ns, PNN-to-IMC RMSE "
        f"{report.flow(PNN_TO_IMC).rmse_ns:.2f} ns"
        + (f", ratio {ratio:.1f}" if ratio is not None and math.isfinite(ratio) else "")
        + f"; wall time {report.wall_time_s:.0f} s; wrote {out / 'report.json'}"
    )
    return 0
