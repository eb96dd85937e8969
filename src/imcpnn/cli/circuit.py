"""``imcpnn circuit ...``: the sky130/ngspice co-simulation (docs/circuit.md).

- ``imcpnn circuit characterize --out DIR``: device sweeps, λ fits, ``DIR/characterization.json``.
- ``imcpnn circuit compare --samples N --out DIR``: ANN-to-IMC against PNN-to-IMC, ``DIR/report.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .commands import COMMANDS

if TYPE_CHECKING:
    from imcpnn.circuit import IrisModels

#: ``compare --quick``'s test and calibration samples (the demo's; :func:`imcpnn.circuit.quick_compare`).
QUICK_SAMPLES, QUICK_CALIBRATION = 3, 2

#: The sky130 corners (kept here so that `imcpnn circuit --help` imports nothing heavy; the config checks
#: them against :data:`imcpnn.circuit.config.SKY130_CORNERS`).
CORNERS = ("tt", "ss", "ff", "sf", "fs")


@contextlib.contextmanager
def _terminate_unwinds() -> Iterator[None]:
    """While a command runs, SIGTERM (``kill PID``) and SIGINT (Ctrl-C) raise SystemExit instead of ending
    the process on the spot, so that its ngspice runs are killed, its pool workers stopped and its temporary
    folders removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def unwind(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    # Ctrl-C takes the same path: a KeyboardInterrupt raised inside the process pool's internals could
    # leave the pool half shut down; SystemExit from this handler is the path the tests exercise
    previous = {sig: signal.signal(sig, unwind) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _integer_at_least(low: int, what: str) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low} ({what}), got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low} ({what}); got {value}")
        return value

    return parse


def _positive_number(what: str, example: str) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number > 0 ({what}), got {text!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be a finite number > 0 ({what}, e.g. {example}); got {text!r}")
        return value

    return parse


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
    char.add_argument("--corner", default="tt", choices=CORNERS, help="sky130 process corner (default tt)")
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
    comp.add_argument(
        "--quick",
        action="store_true",
        help=f"the demo's short flow: {QUICK_SAMPLES} test and {QUICK_CALIBRATION} calibration samples (unless "
        "--samples/--calibration say otherwise) and a scale search of at most two Gauss-Newton steps (no 1 %% grid "
        "descent): about 30 simulations",
    )
    comp.add_argument(
        "--samples",
        type=_integer_at_least(1, "test samples"),
        default=None,
        help=f"test samples to simulate (default 50; {QUICK_SAMPLES} with --quick)",
    )
    comp.add_argument(
        "--calibration",
        type=_integer_at_least(1, "calibration samples"),
        default=None,
        help="calibration samples (training split) for the scale search; each scale point the search evaluates "
        f"simulates all of them (default 10; {QUICK_CALIBRATION} with --quick)",
    )
    comp.add_argument(
        "--max-search-points",
        type=_integer_at_least(1, "scale points per flow"),
        default=None,
        help="cap on the scale points each flow's search evaluates (default 40; the search's simulations are at "
        "most this x --calibration per flow)",
    )
    comp.add_argument(
        "--threads",
        type=_integer_at_least(1, "torch threads"),
        default=None,
        help="CPU threads for the two trainings (default: torch's choice; 1 is fastest on a busy machine)",
    )
    comp.add_argument(
        "--no-progress", action="store_true", help="no progress bar (log lines still give the simulations left)"
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
    comp.add_argument(
        "--workers",
        type=_integer_at_least(1, "parallel ngspice runs"),
        default=None,
        help="parallel simulations (default: CPU count)",
    )
    comp.add_argument(
        "--timeout",
        type=_positive_number("seconds per ngspice run", "600"),
        default=600.0,
        help="per-sample ngspice timeout, s (default 600)",
    )
    comp.add_argument("--seed", type=_integer_at_least(0, "training seed"), default=0, help="training seed (default 0)")
    comp.add_argument(
        "--scale-ann",
        type=_positive_number("a current scale", "0.85"),
        nargs=2,
        metavar=("A_POS", "A_NEG"),
        help="use these ANN-to-IMC current scales instead of searching them",
    )
    comp.add_argument(
        "--scale-pnn",
        type=_positive_number("a current scale", "0.85"),
        metavar="A",
        help="use this PNN-to-IMC current scale instead of searching it",
    )
    comp.set_defaults(func=run_compare)


def run_characterize(args: argparse.Namespace) -> int:
    from imcpnn.circuit import CircuitConfig, characterize
    from imcpnn.outdir import claim_output_folder

    config = CircuitConfig(corner=args.corner)
    with claim_output_folder(args.out), _terminate_unwinds():  # no second process writes into the folder
        char = characterize(args.out, config)
    print(
        f"λN = {char.lambda_n:.4f} /V (R² >= {char.r2_n:.5f}), λP = {char.lambda_p:.4f} /V (R² >= {char.r2_p:.5f}), "
        f"λdis = {char.lambda_dis:.4f} /V (R² = {char.r2_dis:.5f})"
    )
    v_switch = char.details.get("v_switch_effective")
    print(
        f"E+ = {char.e_rev_pos:.3f}, E- = {char.e_rev_neg:.3f}, E_dis = {char.e_dis:.3f}, "
        f"β_dis = {char.beta_dis:.4f}; C_eff = {char.c_eff_f * 1e15:.1f} fF, "
        "effective Vswitch = " + (f"{v_switch:.4f} V" if v_switch is not None else "n/a (the neuron did not fire)")
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
    """The ``--weights`` file: both weight sets and the samples (no labels, no training accuracies).

    Checked before any work: a missing file, one that is not an .npz, missing or misnumbered arrays,
    arrays of the wrong shape or with NaN each give a ValueError/FileNotFoundError naming ``--weights``.
    """
    import zipfile

    from imcpnn.circuit import IrisModels

    expected = (
        "an .npz (numpy.savez) with ann_0, ann_1, ... and pnn_0, pnn_1, ... ([N_out, N_in] each, layer by layer), "
        "calibration_times and test_times ([N, N_in], normalised, +inf: no spike)"
    )
    if not path.is_file():
        raise FileNotFoundError(f"--weights {path} does not exist or is not a file; give {expected}")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("it holds a single array")
            arrays = {key: np.asarray(data[key]) for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"--weights {path} cannot be read ({error}); it must be {expected}") from None
    problems = [name for name in ("calibration_times", "test_times") if name not in arrays]
    flows = {}
    for flow in ("ann", "pnn"):
        numbered = sorted(
            int(k[len(flow) + 1 :]) for k in arrays if k.startswith(f"{flow}_") and k[len(flow) + 1 :].isdigit()
        )
        if not numbered or numbered != list(range(len(numbered))):
            problems.append(f"{flow}_0, {flow}_1, ... numbered from 0 without gaps")
        flows[flow] = [arrays[f"{flow}_{k}"] for k in numbered]
    if problems:
        raise ValueError(f"--weights {path} lacks {'; '.join(problems)}: it has {sorted(arrays)}; give {expected}")
    if len(flows["ann"]) != len(flows["pnn"]):
        raise ValueError(f"--weights {path}: {len(flows['ann'])} ann_ layers but {len(flows['pnn'])} pnn_ layers")
    used = {"calibration_times", "test_times", *(f"{flow}_{k}" for flow in flows for k in range(len(flows[flow])))}
    for name, array in ((name, arrays[name]) for name in sorted(used)):
        if not np.issubdtype(array.dtype, np.number) or array.ndim != 2:
            raise ValueError(
                f"--weights {path}: {name} must be a 2-D array of numbers; got {array.dtype} {array.shape}"
            )
        if np.isnan(array).any() or (not name.endswith("_times") and not np.isfinite(array).all()):
            raise ValueError(f"--weights {path}: {name} holds NaN or infinite values")
    for flow, layers in flows.items():
        for k in range(1, len(layers)):
            if layers[k].shape[1] != layers[k - 1].shape[0]:
                raise ValueError(
                    f"--weights {path}: {flow}_{k} is {layers[k].shape} but {flow}_{k - 1} has "
                    f"{layers[k - 1].shape[0]} outputs ([N_out, N_in] per layer)"
                )
    if [w.shape for w in flows["ann"]] != [w.shape for w in flows["pnn"]]:
        raise ValueError(f"--weights {path}: the ann_ and pnn_ layers must have the same shapes")
    n_in = flows["ann"][0].shape[1]
    for name in ("calibration_times", "test_times"):
        if arrays[name].shape[1] != n_in or arrays[name].shape[0] == 0:
            raise ValueError(f"--weights {path}: {name} must be [N >= 1, {n_in}]; got {arrays[name].shape}")
    return IrisModels(flows["ann"], flows["pnn"], arrays["calibration_times"], arrays["test_times"])


def run_compare(args: argparse.Namespace) -> int:
    from imcpnn.circuit import (
        Characterization,
        CircuitConfig,
    )
    from imcpnn.outdir import claim_output_folder

    # the inputs first: a bad file fails before the folder is touched
    if args.characterization is not None:
        try:
            Characterization.load(args.characterization)
        except (FileNotFoundError, ValueError) as error:
            raise ValueError(f"--characterization: {error}") from None
    weights = _load_weights(args.weights) if args.weights is not None else None
    config = CircuitConfig()
    with claim_output_folder(args.out), _terminate_unwinds():  # no second process writes into the folder
        return _compare_into(args, config, weights)


def _compare_into(args: argparse.Namespace, config: Any, weights: IrisModels | None) -> int:
    import dataclasses

    import torch

    from imcpnn.circuit import (
        ANN_TO_IMC,
        PNN_TO_IMC,
        ScaleSearchOptions,
        compare,
        load_or_characterize,
        prepare_run_folder,
        train_iris_models,
    )
    from imcpnn.circuit.compare import QUICK_SEARCH
    from imcpnn.circuit.progress import SimulationProgress

    samples = args.samples or (QUICK_SAMPLES if args.quick else 50)
    calibration = args.calibration or (QUICK_CALIBRATION if args.quick else 10)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out: Path = prepare_run_folder(args.out, config)
    characterization = load_or_characterize(out, config, args.characterization)
    if weights is not None:
        models = weights
    else:
        models = train_iris_models(
            out, characterization.e_rev_pos, characterization.e_rev_neg, characterization.beta_dis, seed=args.seed,
            n_calibration=calibration,
        )  # fmt: skip
    fixed: dict[str, tuple[float, float]] = {}
    if args.scale_ann is not None:
        fixed[ANN_TO_IMC] = (args.scale_ann[0], args.scale_ann[1])
    if args.scale_pnn is not None:
        fixed[PNN_TO_IMC] = (args.scale_pnn, args.scale_pnn)
    search = dataclasses.replace(QUICK_SEARCH if args.quick else ScaleSearchOptions(), fixed_scales=fixed)
    if args.max_search_points is not None:
        search = dataclasses.replace(search, max_evaluations=args.max_search_points)
    report = compare(
        out, ann_weights=models.ann_weights, pnn_weights=models.pnn_weights,
        calibration_times=np.asarray(models.calibration_times)[:calibration],
        test_times=np.asarray(models.test_times)[:samples], characterization=characterization, config=config,
        workers=args.workers, timeout_s=args.timeout, search=search, test_labels=models.test_labels,
        extra={"training_test_accuracy": models.test_accuracy} if models.test_accuracy else None,
        progress=SimulationProgress(bar=False) if args.no_progress else True,
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
