"""``imcpnn circuit ...``: the sky130/ngspice co-simulation (docs/circuit.md).

- ``imcpnn circuit characterize --out DIR [--corner C --temp T] [--mismatch]``: device sweeps, λ fits, the
  discharger trim, ``DIR/characterization.json``; ``--from-csv FILE`` builds it from measured I-V curves.
- ``imcpnn circuit compare --samples N --out DIR`` (``--quick``: the demo's short flow): ANN-to-IMC against
  PNN-to-IMC, ``DIR/report.json``; ``--dac-bits N`` maps the gate biases through an N-bit bias DAC.
- ``imcpnn circuit netlist CHECKPOINT --out DIR``: a trained network as a portable, hierarchical ngspice
  netlist, ``DIR/network.cir`` (run with ``cd DIR && ngspice -b network.cir``).
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


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a temperature in °C (e.g. 27, -40, 85), got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite temperature in °C (e.g. 27); got {text!r}")
    return value


def _requested_circuit(args: argparse.Namespace) -> Any:
    """The ``CircuitConfig`` of ``--corner`` and ``--temp`` (defaults tt, 27 °C); a ValueError for a bad one."""
    from imcpnn.circuit import CircuitConfig

    return CircuitConfig(corner=args.corner or "tt", temperature=args.temp if args.temp is not None else 27.0)


def register(subparsers: Any) -> None:
    """Add the ``circuit`` command and its ``characterize``, ``compare`` and ``netlist`` subcommands."""
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
        description="Writes DIR/characterization.json and DIR/iv_curves.png (a few seconds). With --from-csv, "
        "from measured I-V curves instead, without SPICE: DIR/characterization.json only (docs/circuit.md, "
        "'Measured I-V curves').",
    )
    char.add_argument("--out", type=Path, required=True, help="output folder")
    char.add_argument("--corner", default=None, choices=CORNERS, help="sky130 process corner (default tt)")
    char.add_argument("--temp", type=_temperature, default=None, metavar="DEG_C", help="temperature, °C (default 27)")
    char.add_argument(
        "--mismatch",
        action="store_true",
        help="also the Monte-Carlo DC statistics of device mismatch (the corner's _mm models, seeded): σ(I)/I, "
        "σ(λ) and σ(Vth) against gate bias per role, and the Pelgrom area law over W x L (about a minute)",
    )
    char.add_argument(
        "--mc-instances",
        type=_integer_at_least(3, "Monte-Carlo instances per device"),
        default=None,
        metavar="N",
        help="with --mismatch: instances per role and size (default 200)",
    )
    char.add_argument(
        "--mc-seed",
        type=_integer_at_least(0, "ngspice's random seed"),
        default=None,
        metavar="S",
        help="with --mismatch: ngspice's seed (.option seed; default 1): the same seed draws the same devices",
    )
    char.add_argument(
        "--from-csv",
        type=Path,
        metavar="FILE",
        help="fit these I-V curves instead of SPICE sweeps: a CSV with the columns role (nmos, pmos, discharger), "
        "V_G [V], V_D [V], I [A]",
    )
    char.add_argument(
        "--c-eff",
        type=_positive_number("the effective membrane capacitance in farads", "115e-15"),
        metavar="F",
        help="with --from-csv: the effective membrane capacitance (F), which DC curves cannot give (default: none)",
    )
    char.add_argument(
        "--vb-dis",
        type=_positive_number("the discharger's gate bias in volts", "0.5541"),
        metavar="V",
        help="with --from-csv: the discharger bias of the measured circuit, the curve λdis is read from "
        "(default 0.5541 V)",
    )
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
        "--dac-bits",
        type=_integer_at_least(1, "DAC bits"),
        default=None,
        help="put every gate bias on the levels of an N-bit bias DAC (imcpnn.circuit.dac; default: exact biases)",
    )
    for polarity in ("n", "p"):
        comp.add_argument(
            f"--dac-range-{polarity}",
            type=float,
            nargs=2,
            metavar=("V_LOW", "V_HIGH"),
            help=f"the {'NMOS' if polarity == 'n' else 'PMOS'} DAC's span of gate voltages, V (default: the "
            "characterised table's span)",
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
        help="a characterization.json to use (default: DIR/characterization.json, made if absent); it must be of "
        "--corner and --temp, and its trimmed Vb_dis is simulated",
    )
    comp.add_argument("--corner", default=None, choices=CORNERS, help="sky130 process corner (default tt)")
    comp.add_argument("--temp", type=_temperature, default=None, metavar="DEG_C", help="temperature, °C (default 27)")
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

    _register_netlist(commands)


def run_characterize(args: argparse.Namespace) -> int:
    from imcpnn.circuit import characterize
    from imcpnn.outdir import claim_output_folder

    if args.from_csv is not None:
        return _characterize_from_csv(args)
    given = [option for option, value in (("--c-eff", args.c_eff), ("--vb-dis", args.vb_dis)) if value is not None]
    if given:
        raise ValueError(
            f"{' and '.join(given)}: for --from-csv only (the SPICE characterisation measures C_eff and sweeps the "
            "circuit's Vb_dis); give --from-csv FILE or leave them out"
        )
    from imcpnn.circuit.mismatch import DEFAULT_INSTANCES, DEFAULT_SEED, MismatchOptions

    mc_given = [option for option, value in (("--mc-instances", args.mc_instances), ("--mc-seed", args.mc_seed))
                if value is not None]  # fmt: skip
    if mc_given and not args.mismatch:
        raise ValueError(f"{' and '.join(mc_given)}: for --mismatch only (the Monte-Carlo statistics)")
    mismatch = (
        MismatchOptions(
            instances=args.mc_instances or DEFAULT_INSTANCES,
            seed=args.mc_seed if args.mc_seed is not None else DEFAULT_SEED,
        )
        if args.mismatch
        else None
    )
    config = _requested_circuit(args)
    with claim_output_folder(args.out), _terminate_unwinds():  # no second process writes into the folder
        char = characterize(args.out, config, mismatch=mismatch)
    trim, sense = char.details["discharger_trim"], char.details["sense_trim"]
    print(
        f"corner {config.corner}, {config.temperature:g} °C: Vb_sense = {sense['vb_sense']:.5f} V ("
        + (f"trimmed from {sense['start_vb_sense']:.5f} V" if sense["trimmed"] else "the design's, no trim needed")
        + f"; switching point {sense['v_switch']:.4f} V, target {sense['target_v']:g} V)"
    )
    print(
        f"corner {config.corner}, {config.temperature:g} °C: Vb_dis = {trim['vb_dis']:.5f} V ("
        + (f"trimmed from {trim['start_vb_dis']:.5f} V" if trim["trimmed"] else "the design's, no trim needed")
        + f"; the neuron without input fires {trim['error_ns']:+.2f} ns from its window's end)"
    )
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
    if char.mismatch is not None:
        stats = char.mismatch
        print(
            f"mismatch ({stats.library_section}, seed {stats.seed}, {stats.instances} instances per device, "
            f"{stats.wall_time_s:.0f} s): "
            + "; ".join(
                f"{d.role} {d.w_um:g}x{d.l_um:g} µm σ(Vth) {np.mean(d.sigma_vth_v) * 1e3:.1f} mV, σ(I)/I "
                f"{d.sigma_current_rel.min() * 100:.0f}-{d.sigma_current_rel.max() * 100:.0f} %"
                for d in stats.devices
                if (d.w_um, d.l_um)
                in ((config.synapse.w, config.synapse.l), (config.discharger.w, config.discharger.l))
            )
            + "; Pelgrom A_VT "
            + ", ".join(f"{p.role} {p.a_vt_v_um * 1e3:.2f} mV·µm (R² {p.r2:.3f})" for p in stats.pelgrom)
        )
    print(f"wrote {args.out / 'characterization.json'} and {args.out / 'iv_curves.png'}")
    return 0


def _characterize_from_csv(args: argparse.Namespace) -> int:
    """``characterize --from-csv FILE``: the characterisation of measured I-V curves (no SPICE)."""
    from imcpnn.circuit import CircuitConfig
    from imcpnn.circuit.iv_csv import characterize_from_csv
    from imcpnn.outdir import claim_output_folder

    if args.corner is not None:
        raise ValueError("--corner picks the sky130 models of the SPICE sweeps; the curves of --from-csv are measured")
    if args.temp is not None or args.mismatch:
        raise ValueError("--temp and --mismatch are for the SPICE sweeps; the curves of --from-csv are measured")
    config = CircuitConfig() if args.vb_dis is None else CircuitConfig(vb_dis=args.vb_dis)
    # a bad file fails before the folder is touched
    characterize_from_csv(args.from_csv, None, config, c_eff_f=args.c_eff)
    with claim_output_folder(args.out):  # no second process writes into the folder
        char = characterize_from_csv(args.from_csv, args.out, config, c_eff_f=args.c_eff)
    print(
        f"λN = {char.lambda_n:.4f} /V (R² >= {char.r2_n:.5f}), λP = {char.lambda_p:.4f} /V (R² >= {char.r2_p:.5f}), "
        f"λdis = {char.lambda_dis:.4f} /V (R² = {char.r2_dis:.5f})"
    )
    c_eff = f"{char.c_eff_f * 1e15:.1f} fF (given)" if args.c_eff is not None else "not measured (give --c-eff F)"
    print(
        f"E+ = {char.e_rev_pos:.3f}, E- = {char.e_rev_neg:.3f}, E_dis = {char.e_dis:.3f}, "
        f"β_dis = {char.beta_dis:.4f}; C_eff = {c_eff}; no firing-ramp check (no transient in a CSV)"
    )
    curves = char.details["csv_curves"]
    print(
        f"from {args.from_csv} (sha256 {char.details['source_sha256'][:12]}...): "
        + ", ".join(f"{role} {c['curves']} curves" for role, c in curves.items())
        + f"; wrote {args.out / 'characterization.json'}"
    )
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


def _bias_dac(args: argparse.Namespace) -> Any:
    """The ``--dac-*`` options as a :class:`~imcpnn.circuit.dac.BiasDAC` (None without ``--dac-bits``)."""
    from imcpnn.circuit.dac import BiasDAC

    if args.dac_bits is None:
        if args.dac_range_n is not None or args.dac_range_p is not None:
            raise ValueError("--dac-range-n/--dac-range-p need --dac-bits N (the DAC's resolution)")
        return None
    try:
        return BiasDAC(args.dac_bits, args.dac_range_n, args.dac_range_p)
    except ValueError as error:
        raise ValueError(f"--dac-bits/--dac-range-*: {error}") from None


def run_compare(args: argparse.Namespace) -> int:
    from imcpnn.circuit import Characterization
    from imcpnn.circuit.run_folder import circuit_of
    from imcpnn.outdir import claim_output_folder

    # the inputs first: a bad file or corner fails before the folder is touched
    config = _requested_circuit(args)
    if args.characterization is not None:
        try:
            circuit_of(Characterization.load(args.characterization), config, str(args.characterization))
        except (FileNotFoundError, ValueError) as error:
            raise ValueError(f"--characterization: {error}") from None
    weights = _load_weights(args.weights) if args.weights is not None else None
    args.dac = _bias_dac(args)
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
    from imcpnn.circuit.run_folder import comparison_circuit

    # the requested corner and temperature with Vb_dis trimmed for them (or the given characterisation's)
    config = comparison_circuit(args.out, config, args.characterization)
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
        progress=SimulationProgress(bar=False) if args.no_progress else True, dac=args.dac,
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


def _register_netlist(commands: Any) -> None:
    """The ``netlist`` subcommand: a trained network as a portable, hierarchical ngspice netlist."""
    net = commands.add_parser(
        "netlist",
        help="a trained RC-Spike network as a portable, hierarchical ngspice netlist",
        description="Writes DIR/network.cir (one subcircuit per synapse block and per neuron, the trained weights "
        "as gate biases, the input spikes of one test sample, a .control block that runs the transient and saves "
        "the spikes and membranes), the sky130 models it includes by a relative path (DIR/sky130_models.spice), "
        "DIR/.spiceinit, DIR/network.json and DIR/README.txt. Run it with `cd DIR && ngspice -b network.cir`. "
        "A folder that already holds any of these files is refused: nothing is overwritten.",
    )
    net.add_argument("checkpoint", type=Path, help="a checkpoint of `imcpnn train --model rcspike` (e.g. best.pt)")
    net.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (made if missing)")
    net.add_argument(
        "--sample",
        type=_integer_at_least(0, "a test-sample index"),
        default=0,
        metavar="INDEX",
        help="the test sample whose input spikes drive the network (default 0)",
    )
    net.add_argument(
        "--characterization",
        type=Path,
        metavar="FILE",
        help="a characterization.json to map the weights with (default: DIR/characterization.json, made if absent)",
    )
    net.add_argument("--corner", default="tt", choices=CORNERS, help="sky130 process corner (default tt)")
    net.add_argument("--temp", type=_temperature, default=27.0, metavar="DEG_C", help="temperature, °C (default 27)")
    net.add_argument(
        "--scale",
        type=_positive_number("a current scale", "0.82"),
        nargs=2,
        metavar=("A_POS", "A_NEG"),
        help="current scales a+ a- of the weight -> current mapping (default: both C_eff / C_m of the "
        "characterisation)",
    )
    net.set_defaults(func=run_netlist)


def run_netlist(args: argparse.Namespace) -> int:
    from imcpnn.circuit import Characterization
    from imcpnn.circuit.export import export_netlist, load_exportable_network
    from imcpnn.outdir import claim_output_folder

    # the inputs first: a bad checkpoint, sample or characterisation fails before the folder is touched
    network = load_exportable_network(args.checkpoint)
    network.sample_input_times(args.sample)
    if args.characterization is not None:
        try:
            Characterization.load(args.characterization)
        except (FileNotFoundError, ValueError) as error:
            raise ValueError(f"--characterization: {error}") from None
    with claim_output_folder(args.out), _terminate_unwinds():  # no second process writes into the folder
        exported = export_netlist(
            network, args.out, sample=args.sample, characterization=args.characterization, corner=args.corner,
            temperature=args.temp, scales=tuple(args.scale) if args.scale is not None else None,
        )  # fmt: skip
    print(f"run it with: cd {exported.folder} && ngspice -b {exported.netlist.name}")
    print(f"it writes {exported.waveforms.name} and {exported.raw.name}; {exported.readme} says what the files are")
    return 0
