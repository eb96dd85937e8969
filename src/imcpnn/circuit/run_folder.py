"""The folder of a comparison: what it was simulated with, and what a rerun may reuse.

A comparison folder holds the characterisation, the trained networks (``models/``), every
simulation (``*.jsonl``, ``waveforms/``), the report and its figures. Simulations depend on the
circuit, so the folder is stamped with it (``circuit.json``: the netlist generator's revision and the
:class:`CircuitConfig`); results of another circuit are moved aside, never deleted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..atomic import write_json
from .characterization import Characterization
from .characterize import characterize
from .config import CircuitConfig
from .netlist import NETLIST_REVISION

#: The stamp of the circuit a comparison folder was simulated with (:func:`prepare_run_folder`).
RUN_STAMP = "circuit.json"
#: What a comparison writes and reuses in its folder besides the trained models (which are keyed by
#: their neuron parameters and do not depend on the circuit).
CIRCUIT_OUTPUTS = (
    "characterization.json", "iv_curves.png", "report.json", "spike_time_histogram.png",
    "worst_sample_waveforms.png", "waveforms",
)  # fmt: skip


def circuit_stamp(config: CircuitConfig) -> dict[str, Any]:
    """What the simulations of a folder depend on: the netlist generator's revision and the config
    (the JSON content of ``circuit.json``)."""
    return json.loads(json.dumps({"netlist_revision": NETLIST_REVISION, "config": config.to_dict()}))


def _stale_outputs(out: Path, stamp: dict[str, Any]) -> list[Path]:
    """The files of ``out`` made with another circuit than ``stamp``'s (see :func:`prepare_run_folder`)."""
    stamp_path = out / RUN_STAMP
    old_stamp = json.loads(stamp_path.read_text()) if stamp_path.is_file() else None
    simulations = sorted(out.glob("*.jsonl"))
    stale: list[Path] = []
    if old_stamp != stamp and (old_stamp is not None or simulations):
        stale = simulations + [out / name for name in CIRCUIT_OUTPUTS if (out / name).exists()]
    char_path = out / "characterization.json"
    if char_path.is_file() and char_path not in stale:
        recorded = json.loads(char_path.read_text()).get("config")
        if recorded != stamp["config"]:
            stale.append(char_path)
    return stale


def _move_aside(out: Path, stale: list[Path]) -> Path:
    """Move ``stale`` into a new ``out/superseded_<time>/``; returns that folder."""
    name = f"superseded_{time.strftime('%Y%m%d-%H%M%S')}"
    folder, k = out / name, 1
    while folder.exists():
        folder, k = out / f"{name}_{k}", k + 1
    folder.mkdir()
    for path in stale:
        path.rename(folder / path.name)
    return folder


def prepare_run_folder(out_dir: Path | str, config: CircuitConfig, log: Callable[[str], None] = print) -> Path:
    """Make ``out_dir`` ready for a comparison of the circuit ``config``; returns it.

    A folder's simulations (``*.jsonl``), characterisation and report are reused by a rerun. When
    they were made with another circuit (another config or netlist revision, per ``circuit.json``;
    a folder without that stamp counts as another circuit once it holds simulations), they are
    moved, never deleted, to a new ``out_dir/superseded_<time>/`` and the comparison starts afresh. A
    characterisation whose recorded config differs from ``config`` is moved the same way.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stamp = circuit_stamp(config)
    stale = _stale_outputs(out, stamp)
    if stale:
        folder = _move_aside(out, stale)
        log(
            f"{out} held results of another circuit (config or netlist revision); moved "
            f"{', '.join(p.name for p in stale)} to {folder} and starting afresh"
        )
    write_json(out / RUN_STAMP, stamp, indent=1)
    return out


def load_or_characterize(
    out_dir: Path | str, config: CircuitConfig, path: Path | str | None = None, log: Callable[[str], None] = print
) -> Characterization:
    """The characterisation at ``path`` (default ``out_dir/characterization.json``); when that file is
    absent, the devices are characterised into ``out_dir``."""
    path = Path(path) if path is not None else Path(out_dir) / "characterization.json"
    if path.exists():
        return Characterization.load(path)
    log("characterising the sky130 devices ...")
    return characterize(out_dir, config)
