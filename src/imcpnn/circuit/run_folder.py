"""The folder of a comparison: what it was simulated with, and what a rerun may reuse.

A comparison folder holds the characterisation, the trained networks (``models/``), every
simulation (``*.jsonl``, ``waveforms/``), the report and its figures. Simulations depend on the
circuit, so the folder is stamped with it (``circuit.json``: the netlist generator's revision and the
:class:`CircuitConfig`); results of another circuit are moved aside, never deleted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..atomic import write_json
from ..outdir import check_output_folder
from .cache import set_aside
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


def _read_json(path: Path) -> tuple[Any, str | None]:
    """The content of a JSON file and None, or None and why it cannot be read."""
    try:
        return json.loads(path.read_text()), None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return None, f"{path.name} is not valid JSON ({error})"
    except OSError as error:
        return None, f"{path.name} cannot be read ({error.strerror})"


def _stale_outputs(out: Path, stamp: dict[str, Any]) -> tuple[list[Path], list[str]]:
    """The files of ``out`` made with another circuit than ``stamp``'s, or unreadable (see
    :func:`prepare_run_folder`), and the reasons."""
    stamp_path = out / RUN_STAMP
    simulations = sorted(out.glob("*.jsonl"))
    stale: list[Path] = []
    reasons: list[str] = []
    old_stamp = None
    if stamp_path.is_file():
        old_stamp, problem = _read_json(stamp_path)
        if problem:  # a corrupt stamp: nothing of the folder can be trusted to match
            reasons.append(problem)
            stale.append(stamp_path)
            old_stamp = {"unreadable": True}
    if old_stamp != stamp and (old_stamp is not None or simulations):
        stale += simulations + [out / name for name in CIRCUIT_OUTPUTS if (out / name).exists()]
        if not reasons:
            reasons.append("it held results of another circuit (config or netlist revision)")
    char_path = out / "characterization.json"
    if char_path.is_file() and char_path not in stale:
        data, problem = _read_json(char_path)
        if problem:
            stale.append(char_path)
            reasons.append(problem)
        else:
            try:
                Characterization.from_dict(data, source=char_path.name)
            except ValueError as error:
                stale.append(char_path)
                reasons.append(str(error).split(";")[0])
            else:
                if data.get("config") != stamp["config"]:
                    stale.append(char_path)
                    reasons.append("its characterization.json is of another circuit")
    return stale, reasons


def prepare_run_folder(out_dir: Path | str, config: CircuitConfig, log: Callable[[str], None] = print) -> Path:
    """Make ``out_dir`` ready for a comparison of the circuit ``config``; returns it.

    A folder's simulations (``*.jsonl``), characterisation and report are reused by a rerun. When
    they were made with another circuit (another config or netlist revision, per ``circuit.json``;
    a folder without that stamp counts as another circuit once it holds simulations), or when
    ``circuit.json`` is unreadable, they are moved, never deleted, to a new ``out_dir/superseded_<time>/``
    and the comparison starts afresh. A characterisation whose recorded config differs from ``config``,
    or that is not a readable characterisation, is moved the same way (and made anew). Each move is logged.
    """
    out = check_output_folder(out_dir, "the comparison folder")
    stamp = circuit_stamp(config)
    stale, reasons = _stale_outputs(out, stamp)
    if stale:
        set_aside(out, stale, f"{out}: {'; '.join(reasons)}; starting afresh", log)
    write_json(out / RUN_STAMP, stamp, indent=1)
    return out


def load_or_characterize(
    out_dir: Path | str, config: CircuitConfig, path: Path | str | None = None, log: Callable[[str], None] = print
) -> Characterization:
    """The characterisation at ``path``, or by default ``out_dir/characterization.json``.

    An explicit ``path`` must be a readable characterisation (else FileNotFoundError or ValueError,
    naming it). The default file is made when it is absent, and set aside (``superseded_<time>/``) and
    made anew when it is unreadable.
    """
    if path is not None:
        characterization = Characterization.load(path)
        recorded = characterization.details.get("config")
        if recorded is not None and recorded != circuit_stamp(config)["config"]:
            log(
                f"note: {path} was made for another circuit config than this comparison's; its tables are used as given"
            )
        return characterization
    default = Path(out_dir) / "characterization.json"
    if default.exists():
        try:
            return Characterization.load(default)
        except (ValueError, FileNotFoundError) as error:
            set_aside(Path(out_dir), [default], f"{error}".split("; make")[0], log)
    log("characterising the sky130 devices ...")
    return characterize(out_dir, config)
