"""``imcpnn circuit ...``: the sky130/ngspice co-simulation (docs/circuit.md).

- ``imcpnn circuit characterize --out DIR``: device sweeps, λ fits, ``DIR/characterization.json``.
- ``imcpnn circuit compare --samples N --out DIR``: ANN-to-IMC against PNN-to-IMC, ``DIR/report.json``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def register(subparsers: Any) -> None:
    """Add the ``circuit`` command and its ``characterize`` and ``compare`` subcommands."""
    parser = subparsers.add_parser(
        "circuit",
        help="sky130/ngspice co-simulation of the RC-Spike circuit",
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
    comp.add_argument("--calibration", type=int, default=10,
                      help="calibration samples (training split) for the scale search (default 10)")
    comp.add_argument("--weights", type=Path,
                      help="an .npz with ann_0, ann_1, pnn_0, pnn_1 ([N_out, N_in] each), calibration_times "
                           "and test_times ([N, 5]) instead of training the networks")
    comp.add_argument("--characterization", type=Path,
                      help="a characterization.json to use (default: DIR/characterization.json, made if absent)")
    comp.add_argument("--workers", type=int, default=None, help="parallel simulations (default: CPU count)")
    comp.add_argument("--timeout", type=float, default=600.0, help="per-sample ngspice timeout, s (default 600)")
    comp.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    comp.add_argument("--scale-ann", type=float, nargs=2, metavar=("A_POS", "A_NEG"),
                      help="use these ANN-to-IMC current scales instead of searching them")
    comp.add_argument("--scale-pnn", type=float, metavar="A",
                      help="use this PNN-to-IMC current scale instead of searching it")
    comp.set_defaults(func=run_compare)


def run_characterize(args: argparse.Namespace) -> int:
    from imcpnn.circuit import CircuitConfig, characterize

    data = characterize(args.out, CircuitConfig(corner=args.corner))
    print(f"λN = {data['lambda_n']:.4f} /V (R² >= {data['r2']['nmos']:.5f}), "
          f"λP = {data['lambda_p']:.4f} /V (R² >= {data['r2']['pmos']:.5f}), "
          f"λdis = {data['lambda_dis']:.4f} /V (R² = {data['r2']['discharger']:.5f})")
    print(f"E+ = {data['e_rev_pos']:.3f}, E- = {data['e_rev_neg']:.3f}, E_dis = {data['e_dis']:.3f}, "
          f"β_dis = {data['beta_dis']:.4f}; C_eff = {data['c_eff_f'] * 1e15:.1f} fF, "
          f"effective Vswitch = {data['v_switch_effective']:.4f} V")
    ns = data["config"]["t_circ"] * 1e9
    ramp = [(row["t_circuit"] - row["t_model"]) * ns for row in data["firing_ramp"] if row["t_circuit"] is not None]
    if ramp:
        print(f"firing ramp, circuit - model (synapses off, {len(ramp)} potentials): "
              + ", ".join(f"{d:+.2f}" for d in ramp) + " ns")
    print(f"wrote {args.out / 'characterization.json'} and {args.out / 'iv_curves.png'}")
    return 0


def _load_weights(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise FileNotFoundError(f"--weights {path} does not exist")
    with np.load(path) as data:
        arrays = {key: np.asarray(data[key]) for key in data.files}
    needed = {"calibration_times", "test_times"}
    missing = sorted(needed - set(arrays))
    ann = [arrays[f"ann_{k}"] for k in range(len(arrays)) if f"ann_{k}" in arrays]
    pnn = [arrays[f"pnn_{k}"] for k in range(len(arrays)) if f"pnn_{k}" in arrays]
    if missing or not ann or not pnn:
        raise ValueError(f"--weights {path} needs ann_0.., pnn_0.., calibration_times and test_times; "
                         f"it has {sorted(arrays)}")
    return {"ann": ann, "pnn": pnn, "calibration": arrays["calibration_times"], "test": arrays["test_times"]}


def run_compare(args: argparse.Namespace) -> int:
    from imcpnn.circuit import CircuitConfig, compare, prepare_run_folder, train_iris_models
    from imcpnn.circuit.compare import load_or_characterize

    if args.samples < 1 or args.calibration < 1:
        raise ValueError(f"--samples and --calibration must be >= 1; got {args.samples}, {args.calibration}")
    config = CircuitConfig()
    out: Path = prepare_run_folder(args.out, config)
    characterization = load_or_characterize(out, config, args.characterization)
    if args.weights is not None:
        loaded = _load_weights(args.weights)
    else:
        models = train_iris_models(out, characterization.e_rev_pos, characterization.e_rev_neg,
                                   characterization.beta_dis, seed=args.seed, n_calibration=args.calibration)
        loaded = {"ann": list(models.ann_weights), "pnn": list(models.pnn_weights),
                  "calibration": models.calibration_times, "test": models.test_times,
                  "labels": models.test_labels, "accuracy": models.test_accuracy}
    test = np.asarray(loaded["test"])[: args.samples]
    calibration = np.asarray(loaded["calibration"])[: args.calibration]
    fixed: dict[str, tuple[float, float]] = {}
    if args.scale_ann is not None:
        fixed["ann_to_imc"] = (args.scale_ann[0], args.scale_ann[1])
    if args.scale_pnn is not None:
        fixed["pnn_to_imc"] = (args.scale_pnn, args.scale_pnn)
    report = compare(out, ann_weights=loaded["ann"], pnn_weights=loaded["pnn"], calibration_times=calibration,
                     test_times=test, characterization=characterization, config=config, workers=args.workers,
                     timeout_s=args.timeout, fixed_scales=fixed, test_labels=loaded.get("labels"),
                     extra={"training_test_accuracy": loaded["accuracy"]} if loaded.get("accuracy") else None)
    rmse = report["rmse_ns"]
    ratio = report.get("rmse_ratio_ann_over_pnn")
    print(json.dumps({"rmse_ns": rmse, "scales": report["scales"], "n_samples": report["n_samples"]}, indent=1))
    print(f"ANN-to-IMC RMSE {rmse['ann_to_imc']:.2f} ns, PNN-to-IMC RMSE {rmse['pnn_to_imc']:.2f} ns"
          + (f", ratio {ratio:.1f}" if ratio is not None and math.isfinite(ratio) else "")
          + f"; wall time {report['wall_time_s']:.0f} s; wrote {out / 'report.json'}")
    return 0
