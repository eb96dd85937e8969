"""The settings of ``imcpnn train``, derived from the fields of :mod:`imcpnn.training.config`.

Every field of :class:`DataSettings`, :class:`OptimiserSettings` and :class:`LossSettings` is a flag
(``--max-train-samples``) and a TOML key (``max-train-samples = 100``) spelled the same way, with the
help text from the field's metadata; the neuron's settings (which live in
:class:`~imcpnn.layers.NeuronConfig` and :class:`~imcpnn.params.NeuronParams`) are listed in
:data:`NEURON_FLAGS`. :meth:`TrainConfig.from_flags` takes exactly these names (``-`` as ``_``).
"""

from __future__ import annotations

import argparse
import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..families import FAMILIES
from .config import DataSettings, LossSettings, OptimiserSettings
from .precision import PRECISIONS


@dataclass(frozen=True)
class Flag:
    """One setting of ``imcpnn train``: its name (with ``_``), value type, help and argparse extras."""

    name: str
    kind: type
    help: str
    choices: tuple[str, ...] | None = None
    nargs: str | None = None
    metavar: str | None = None

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


NEURON_FLAGS: tuple[Flag, ...] = (
    Flag("model", str, "neuron family (default rcspike)", choices=tuple(FAMILIES)),
    Flag("arch", str, "architecture string, e.g. 64-100-10 or 3x32x32:C64-C64-P-512-10 (default: per data set)"),
    Flag("e_rev", float, "|E±| (symmetric) or the pair E+ E- (default 2); TOML: e-rev = 2 or e-rev = [2.8, -1.53]",
         nargs="+", metavar="E"),
    Flag("beta_dis", float, "discharger non-ideality β_dis in [0, 1) (default 0)"),
    Flag("characterization", str, "a characterization.json (imcpnn circuit characterize): train the RC-Spike "
         "model with its E+, E- and β_dis (not with another --e-rev or --beta-dis; --model rcspike only)",
         metavar="FILE"),
    Flag("leak", float, "leak rate α >= 0 of the membrane, 1/time (default 0)"),
    Flag("window", float, "TTFS time window T (default 4; RC-Spike's is 1)"),
    Flag("solver", str, "solver in training (default dstd)", choices=("dstd", "exact")),
    Flag("steps", int, "DSTD steps M in training (default 4 RC-Spike, 20 TTFS)"),
    Flag("offset", str, "DSTD grid offset in training (default random)", choices=("random", "fixed")),
    Flag("eval_steps", int, "DSTD steps in evaluation (default 30 RC-Spike, 60 TTFS)"),
    Flag("spike_noise", float, "σ of the spike-time noise on every layer (default 0.01)"),
)  # fmt: skip

RUN_FLAGS: tuple[Flag, ...] = (
    Flag("seed", int, "random seed (default 0)"),
    Flag("device", str, "cpu, cuda or cuda:N (default cpu)"),
    Flag(
        "precision",
        str,
        "arithmetic of the training step: fp32, tf32 (CUDA's TF32 products) or bf16 autocast "
        "(default fp32; see docs/gpu.md)",
        choices=PRECISIONS,
    ),
    Flag("out", str, "output folder (default runs/train)"),
)

_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def _field_flags(part: type) -> tuple[Flag, ...]:
    flags = []
    for f in dataclasses.fields(part):
        kind = _TYPES[str(f.type).split("|")[0].strip()]
        flags.append(Flag(f.name, kind, f"{f.metadata['help']} (default: {f.default!r} or the preset's)"))
    return tuple(flags)


TRAIN_FLAGS: tuple[Flag, ...] = (
    _field_flags(DataSettings) + NEURON_FLAGS + _field_flags(OptimiserSettings) + _field_flags(LossSettings) + RUN_FLAGS
)
FLAG_NAMES: tuple[str, ...] = tuple(flag.name for flag in TRAIN_FLAGS)


def add_train_flags(parser: argparse.ArgumentParser) -> None:
    """One option per :data:`TRAIN_FLAGS` entry, default ``None`` (the config's default applies)."""
    for flag in TRAIN_FLAGS:
        if flag.kind is bool:
            parser.add_argument(flag.option, action=argparse.BooleanOptionalAction, default=None, help=flag.help)
            continue
        extras = {k: v for k, v in (("choices", flag.choices), ("nargs", flag.nargs), ("metavar", flag.metavar)) if v}
        parser.add_argument(flag.option, type=flag.kind, default=None, help=flag.help, **extras)


def flags_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The train settings of parsed arguments (only those given)."""
    return {name: getattr(args, name) for name in FLAG_NAMES if getattr(args, name, None) is not None}


def read_toml(path: str | Path) -> dict[str, Any]:
    """Train settings from a TOML file (top level or a ``[train]`` table), keys spelled as the flags."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path} is not valid TOML: {error}") from error
    table = data.get("train", data)
    settings = {str(key).replace("-", "_"): value for key, value in table.items()}
    unknown = sorted(set(settings) - set(FLAG_NAMES))
    if unknown:
        known = ", ".join(name.replace("_", "-") for name in FLAG_NAMES)
        raise ValueError(f"unknown keys in {path}: {unknown}; allowed (as the flags): {known}")
    return settings
