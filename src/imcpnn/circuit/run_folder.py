"""The folder of a comparison: what it was simulated with, and what a rerun may reuse.

A comparison folder holds the characterisation, the trained networks (``models/``), every
simulation (``*.jsonl``, ``waveforms/``), the report and its figures. Simulations depend on the
circuit, so the folder is stamped with it (``circuit.json``: the netlist generator's revision and the
:class:`CircuitConfig`); results of another circuit are moved aside, never deleted.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import replace
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


class CircuitMismatchError(ValueError):
    """A characterisation of another corner, temperature, sensing-inverter or discharger bias than the circuit to be
    simulated."""


def check_characterization_circuit(characterization: Characterization, config: CircuitConfig, source: str) -> None:
    """Refuse (:class:`CircuitMismatchError`, naming both) a characterisation made at another corner or temperature
    than ``config``'s, or with another (trimmed) ``Vb_sense`` or ``Vb_dis``: its tables and E±, β_dis are of other
    devices, its switching point and ramp of another neuron (VARIATION.md section 1). One that records no config (an
    old or hand-made file) passes."""
    corner, temperature = characterization.corner, characterization.temperature_c
    if corner is None or temperature is None:
        return
    if corner != config.corner or not math.isclose(temperature, config.temperature, abs_tol=1e-9):
        raise CircuitMismatchError(
            f"{source} was characterised at corner {corner} and {temperature:g} °C, but the circuit to simulate is "
            f"at corner {config.corner} and {config.temperature:g} °C; give --corner {corner} --temp {temperature:g} "
            f"(Python: CircuitConfig(corner={corner!r}, temperature={temperature:g})), or characterise the circuit "
            f"with `imcpnn circuit characterize --corner {config.corner} --temp {config.temperature:g} --out DIR`"
        )
    recorded_sense = characterization.details.get("config", {}).get("vb_sense")
    if recorded_sense is not None and not math.isclose(float(recorded_sense), config.vb_sense, abs_tol=1e-12):
        raise CircuitMismatchError(
            f"{source} was characterised with the sensing inverter biased at Vb_sense = {float(recorded_sense):.5f} V "
            f"(trimmed for corner {corner} at {temperature:g} °C), but the circuit to simulate has Vb_sense = "
            f"{config.vb_sense:.5f} V; simulate the characterisation's circuit (comparison_circuit; Python: "
            "dataclasses.replace(config, vb_sense=characterization.circuit_config().vb_sense))"
        )
    recorded = characterization.details.get("config", {}).get("vb_dis")
    if recorded is not None and not math.isclose(float(recorded), config.vb_dis, abs_tol=1e-12):
        raise CircuitMismatchError(
            f"{source} was characterised with the discharger biased at Vb_dis = {float(recorded):.5f} V (trimmed for "
            f"corner {corner} at {temperature:g} °C), but the circuit to simulate has Vb_dis = {config.vb_dis:.5f} V; "
            "simulate the characterisation's circuit (comparison_circuit; Python: "
            "dataclasses.replace(config, vb_dis=characterization.circuit_config().vb_dis))"
        )


def circuit_of(characterization: Characterization, requested: CircuitConfig, source: str) -> CircuitConfig:
    """The circuit to simulate with ``characterization``: ``requested`` with the characterisation's trimmed
    ``Vb_sense`` and ``Vb_dis``, after :func:`check_characterization_circuit` of its corner and temperature."""
    recorded = characterization.details.get("config")
    config = requested
    for name in ("vb_sense", "vb_dis"):
        value = recorded.get(name) if isinstance(recorded, dict) else None
        config = replace(config, **{name: float(value)}) if value is not None else config
    check_characterization_circuit(characterization, config, source)
    return config


def _same_design(recorded: dict[str, Any], requested: CircuitConfig) -> bool:
    """Whether a recorded config is ``requested`` but for its trimmed ``vb_sense`` and ``vb_dis`` (stamped as
    JSON)."""
    ours = circuit_stamp(requested)["config"]
    return {**recorded, "vb_sense": None, "vb_dis": None} == {**ours, "vb_sense": None, "vb_dis": None}


def comparison_circuit(
    out_dir: Path | str,
    requested: CircuitConfig,
    characterization: Characterization | Path | str | None = None,
    log: Callable[[str], None] = print,
) -> CircuitConfig:
    """The circuit a comparison (or an export) into ``out_dir`` simulates: ``requested`` (its corner and
    temperature) with ``Vb_sense`` and ``Vb_dis`` trimmed for them (VARIATION.md section 1;
    :func:`.characterize.trim_biases`).

    - A given ``characterization`` (an object or a file) supplies its trimmed ``Vb_sense`` and ``Vb_dis``; one of
      another corner or temperature is refused, naming both (:class:`CircuitMismatchError`).
    - Else ``out_dir/characterization.json``, when it is a readable characterisation of ``requested`` with both
      trims recorded from ``requested``'s biases, supplies them (a rerun resumes without recalibrating).
    - Else the calibration runs (a few dozen one-neuron transients, two at the tt design;
      :class:`~.characterize.SenseTrimError` or :class:`~.characterize.DischargerTrimError` when no bias meets its
      criterion).
    """
    from .characterize import trim_biases

    if characterization is not None:
        source = "the characterisation" if isinstance(characterization, Characterization) else str(characterization)
        loaded = characterization if isinstance(characterization, Characterization) else Characterization.load(source)
        return circuit_of(loaded, requested, source)
    default = Path(out_dir) / "characterization.json"
    if default.is_file():
        data, problem = _read_json(default)
        if problem is None and isinstance(data, dict):
            recorded, trim, sense = data.get("config"), data.get("discharger_trim"), data.get("sense_trim")
            if (
                isinstance(recorded, dict) and isinstance(trim, dict) and isinstance(sense, dict)
                and _same_design(recorded, requested)
                and math.isclose(float(trim.get("start_vb_dis", math.nan)), requested.vb_dis, abs_tol=1e-12)
                and math.isclose(float(sense.get("start_vb_sense", math.nan)), requested.vb_sense, abs_tol=1e-12)
            ):  # fmt: skip
                return replace(requested, vb_sense=float(recorded["vb_sense"]), vb_dis=float(recorded["vb_dis"]))
    log(f"calibrating Vb_sense and Vb_dis for corner {requested.corner} at {requested.temperature:g} °C ...")
    sense_trim, trim = trim_biases(requested)
    if sense_trim.trimmed:
        log(
            f"Vb_sense trimmed from {sense_trim.start_vb_sense:.5f} V to {sense_trim.vb_sense:.5f} V (switching point "
            f"{sense_trim.v_switch:.4f} V, {len(sense_trim.evaluations)} transients in {sense_trim.rounds} rounds)"
        )
    if trim.trimmed:
        log(
            f"Vb_dis trimmed from {trim.start_vb_dis:.5f} V to {trim.vb_dis:.5f} V ({len(trim.evaluations)} transients)"
        )
    return replace(requested, vb_sense=sense_trim.vb_sense, vb_dis=trim.vb_dis)


def load_or_characterize(
    out_dir: Path | str, config: CircuitConfig, path: Path | str | None = None, log: Callable[[str], None] = print
) -> Characterization:
    """The characterisation at ``path``, or by default ``out_dir/characterization.json``.

    An explicit ``path`` must be a readable characterisation (else FileNotFoundError or ValueError,
    naming it) of the corner, temperature, ``Vb_sense`` and ``Vb_dis`` of ``config`` (else
    :class:`CircuitMismatchError`, naming both). The default file is made when it is absent, and set aside
    (``superseded_<time>/``) and made anew when it is unreadable. It is made at ``config`` as given: a ``Vb_sense``
    or ``Vb_dis`` that the calibration would trim (another corner or temperature than the design's; see
    :func:`comparison_circuit`) is refused before anything is written.
    """
    if path is not None:
        characterization = Characterization.load(path)
        check_characterization_circuit(characterization, config, str(path))
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
    out = check_output_folder(out_dir, "the characterisation's folder")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".characterizing_") as folder:  # moved in only when it fits
        made = characterize(folder, config)
        for label, key, field_name in (("Vb_sense", "sense_trim", "vb_sense"), ("Vb_dis", "discharger_trim", "vb_dis")):
            trim = made.details.get(key) or {}
            if trim.get("trimmed"):
                raise CircuitMismatchError(
                    f"the circuit's {label} = {getattr(config, field_name):.5f} V is not trimmed for corner "
                    f"{config.corner} at {config.temperature:g} °C: the calibration gives {trim[field_name]:.5f} V. "
                    "Simulate comparison_circuit(out_dir, config) (the CLI's --corner/--temp do), or give "
                    f"CircuitConfig({field_name}={trim[field_name]:.5f}, ...) with every trimmed bias"
                )
        for name in ("characterization.json", "iv_curves.png"):
            if (Path(folder) / name).exists():
                os.replace(Path(folder) / name, out / name)
    return made
