"""The table of ``imcpnn`` subcommands: each one's module and its one-line help.

:mod:`imcpnn.cli.main` reads it to build ``imcpnn --help`` without importing torch, and builds the
full parser (with its heavy imports) only for the command being run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """A subcommand: the module whose ``register(subparsers)`` adds its parser, and its help line."""

    module: str
    help: str


COMMANDS: dict[str, Command] = {
    "demo": Command(
        "imcpnn.cli.demo",
        "the main job on bundled data: DSTD accuracy, then bottom-up against top-down training on digits",
    ),
    "train": Command("imcpnn.cli.train", "train a spiking IMC network"),
    "eval": Command(
        "imcpnn.cli.train", "re-evaluate a checkpoint (other E±, DSTD steps, spike noise; scaled-ANN search)"
    ),
    "experiment": Command(
        "imcpnn.cli.experiment",
        "run a paper experiment (accuracy vs M, vs |E±|, spike-time histograms, vs evaluation M)",
    ),
    "circuit": Command("imcpnn.cli.circuit", "sky130/ngspice co-simulation of the RC-Spike circuit"),
    "bench": Command(
        "imcpnn.cli.bench",
        "speed and peak memory of DSTD against exact, torchdiffeq and the 2M-product bound; error figures",
    ),
}
