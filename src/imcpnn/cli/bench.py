"""``imcpnn bench``: DSTD against the exact solver, torchdiffeq and the dense-product bound; error figures."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .commands import COMMANDS


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from error
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help=COMMANDS["bench"].help,
        description="One layer of 1000 neurons, inputs uniform in [0, 1], 1000 samples in batches of 100, "
        "forward + backward: RC-Spike (M = 10) and TTFS (M = 20), exact against DSTD, for N_in = 100, 300, "
        "1000, 3000, each case in a fresh subprocess (peak resident memory on CPU, max_memory_allocated on "
        "CUDA); the bound (2M dense products); a torchdiffeq baseline at the tolerance that matches DSTD's "
        "M = 10 spike-time error; DSTD's end-potential error against M and |E±| (PNGs). With --network: the "
        "training step (forward, backward, Adam) of whole networks instead, DSTD at each M against the ideal "
        "ANN and DSTD's products alone (the bound). See docs/benchmarks.md.",
    )
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:i]")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="write every case and the summary")
    parser.add_argument("--out", type=Path, default=Path("runs/bench"), help="folder of the PNGs (runs/bench)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="N_in = 1000 only, 200 samples, exact cases on batches of 25 capped at 20 s (time per sample "
        "extrapolated, peak scaled to batch 100), small ODE run, no figures (under 3 minutes on 2 cores)",
    )
    parser.add_argument("--n-in", type=_int_list, default=None, metavar="LIST", help="e.g. 100,300,1000,3000")
    parser.add_argument("--samples", type=int, default=None, help="data set size (1000; quick: 200)")
    parser.add_argument("--batch", type=int, default=None, help="mini-batch size (100; --network: 32)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads in each case (torch's default)")
    parser.add_argument(
        "--max-case-seconds",
        type=float,
        default=None,
        help="time cap per case; the remaining batches are extrapolated (default none; quick: 25)",
    )
    parser.add_argument("--no-ode", action="store_true", help="skip the torchdiffeq baseline")
    parser.add_argument("--no-errors", action="store_true", help="skip the error figures (quick skips them too)")
    parser.add_argument("--errors-only", action="store_true", help="only the error figures (Fig. 3a-b)")
    network = parser.add_argument_group("network benchmark (--network)")
    network.add_argument(
        "--network",
        nargs="+",
        default=None,
        metavar="NAME",
        help="time the training step of these networks: vgg7, fmnist-mlp, cpu-cnn or an architecture string "
        "(e.g. 1x28x28:C8-C8-P-16-10), each as DSTD RC-Spike at every --steps M, the ideal ANN and the bound",
    )
    network.add_argument("--steps", nargs="+", type=int, default=None, metavar="M", help="DSTD's M values (2 4 10)")
    network.add_argument("--repeats", type=int, default=None, help="timed steps per case (10)")
    network.add_argument("--warmup", type=int, default=None, help="untimed steps before them (2)")
    network.add_argument(
        "--precision",
        choices=("fp32", "tf32", "bf16"),
        default=None,
        help="the steps' arithmetic, as imcpnn train --precision: fp32 (default), bf16 (autocast) or tf32 (CUDA)",
    )
    peer = parser.add_argument_group("peer benchmark (--peer)")
    peer.add_argument(
        "--peer",
        choices=PEERS,
        default=None,
        help="DSTD (M = 10) against a peer library's neuron at the time step of equal end-potential error (found "
        "by a sweep): norse (its conductance-based LIF, coba_lif), RC-Spike, forward + backward; takes --n-in (one "
        "value), --samples, --batch, --threads, --device, --json",
    )
    parser.set_defaults(func=run)


#: Options of the layer benchmark that the network benchmark does not take, and the reverse.
_LAYER_ONLY = ("quick", "n_in", "samples", "max_case_seconds", "no_ode", "no_errors", "errors_only")
_NETWORK_ONLY = ("steps", "repeats", "warmup", "precision")
#: Peer libraries of ``--peer``; the options the peer benchmark does not take.
PEERS = ("norse",)
_NOT_PEER = ("quick", "no_ode", "no_errors", "errors_only", "network", *_NETWORK_ONLY)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def run_networks(args: argparse.Namespace) -> int:
    """``--network``: the training step of whole networks (:mod:`imcpnn.benchmarks.network`)."""
    from ..benchmarks.network import NetworkBenchSettings, format_summary, run_network_benchmark

    given = [_flag(name) for name in _LAYER_ONLY if getattr(args, name) not in (None, False)]
    if given:
        raise ValueError(f"{', '.join(given)}: options of the layer benchmark, not of --network")
    for name, low in (("batch", 1), ("repeats", 1), ("threads", 1), ("warmup", 0)):
        value = getattr(args, name)
        if value is not None and value < low:
            raise ValueError(f"{_flag(name)} must be an integer >= {low}; got {value}")
    if args.steps is not None and min(args.steps) < 1:
        raise ValueError(f"--steps: every DSTD M must be an integer >= 1; got {' '.join(map(str, args.steps))}")
    changes = {name: getattr(args, name) for name in ("batch", "steps", "repeats", "warmup", "threads", "precision")}
    changes = {name: tuple(value) if name == "steps" else value for name, value in changes.items() if value is not None}
    settings = NetworkBenchSettings(networks=tuple(args.network), device=args.device, **changes)
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"--device {args.device}: CUDA is not available in this torch build or machine")
    result = run_network_benchmark(settings, json_path=args.json)
    print()
    print(format_summary(result))
    if args.json is not None:
        print(f"written: {args.json}")
    failed = sum(not record.ok for record in result.cases)
    if failed:
        print(f"{failed} of {len(result.cases)} cases failed (see their lines above)")
    return 1 if failed else 0


def _check_sizes(args: argparse.Namespace) -> None:
    """``--samples``, ``--batch``, ``--threads`` positive integers and ``--max-case-seconds`` positive."""
    for name in ("samples", "batch", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name} must be a positive integer; got {value}")
    if args.max_case_seconds is not None and not args.max_case_seconds > 0:
        raise ValueError(f"--max-case-seconds must be positive; got {args.max_case_seconds}")


def run_peer(args: argparse.Namespace) -> int:
    """``--peer norse``: DSTD against Norse's ``coba_lif`` at equal error (:mod:`..benchmarks.peer_norse_compare`)."""
    from dataclasses import replace

    from ..benchmarks.peer_norse_compare import NorsePeerSettings, format_peer_table, run_norse_peer
    from ..benchmarks.settings import BenchSettings

    given = [_flag(name) for name in _NOT_PEER if getattr(args, name) not in (None, False)]
    if given:
        raise ValueError(f"{', '.join(given)}: options of the layer or network benchmark, not of --peer")
    _check_sizes(args)
    if args.n_in is not None and len(args.n_in) != 1:
        raise ValueError(f"--peer takes one --n-in value; got {','.join(map(str, args.n_in))}")
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"--device {args.device}: CUDA is not available in this torch build or machine")
    if args.json is not None:  # a new file: a benchmark's figures are never overwritten
        from ..benchmarks.network import check_new_json_file

        check_new_json_file(args.json)
    changes = {name: getattr(args, name) for name in ("samples", "batch", "threads", "max_case_seconds")}
    bench = replace(BenchSettings(device=args.device), **{k: v for k, v in changes.items() if v is not None})
    settings = NorsePeerSettings(bench=bench, n_in=args.n_in[0] if args.n_in else NorsePeerSettings.n_in)
    record = run_norse_peer(settings)
    print()
    print(format_peer_table(record))
    if args.json is not None:
        from ..atomic import write_json

        write_json(args.json, record.to_dict())
        print(f"written: {args.json}")
    failed = [case for case in (record.norse_case, record.dstd_case) if not case.ok]
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    if args.peer is not None:
        return run_peer(args)
    if args.network is not None:
        return run_networks(args)
    given = [_flag(name) for name in _NETWORK_ONLY if getattr(args, name) is not None]
    if given:
        raise ValueError(f"{', '.join(given)}: options of the network benchmark; give --network too")
    from ..benchmarks.accuracy import plot_error_figures
    from ..benchmarks.speed import BenchSettings, format_markdown, quick_settings, run_benchmark

    start = time.perf_counter()
    _check_sizes(args)
    if args.json is not None:  # checked before the benchmark, so that its figures is never lost
        from ..outdir import check_output_file

        check_output_file(args.json)
    if not args.errors_only:
        settings = quick_settings() if args.quick else BenchSettings()
        changes: dict[str, object] = {"device": args.device}
        for name in ("samples", "batch", "threads", "max_case_seconds"):
            if getattr(args, name) is not None:
                changes[name] = getattr(args, name)
        if args.n_in is not None:
            changes["n_ins"] = args.n_in
        if args.no_ode:
            changes["include_ode"] = False
        if args.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ValueError(f"--device {args.device}: CUDA is not available in this torch build or machine")
        result = run_benchmark(settings, quick=args.quick, json_path=args.json, **changes)
        print()
        print(format_markdown(result))
        print(f"\nsummary at N_in = {result.summary.n_in}:")
        print(json.dumps(result.summary.to_dict(), indent=2))
        if args.json is not None:
            print(f"written: {args.json}")
    if args.errors_only or not (args.no_errors or args.quick):
        from ..outdir import claim_output_folder

        with claim_output_folder(args.out):
            figures = plot_error_figures(args.out)
        print(f"error figures: {figures['error_vs_steps']}, {figures['error_vs_erev']}")
    print(f"bench finished in {time.perf_counter() - start:.0f} s")
    return 0
