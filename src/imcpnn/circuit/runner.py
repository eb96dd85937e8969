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
ngspice runs and temporary folders with them (:mod:`.pool`). The job and result types are in
:mod:`.jobs`, the JSON-lines and waveform files in :mod:`.sample_files`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from .cache import set_aside
from .config import CircuitConfig
from .energy import spice_energy, synaptic_events
from .jobs import CRASHED, SampleJob, SampleResult
from .netlist import (
    build_network_netlist,
    firing_start,
    membrane_node,
    spike_node,
)
from .pool import pool_context, run_in_worker, stop_pool, worker_init
from .progress import SimulationProgress
from .sample_files import UnreadableWaveforms, load_cache, load_results, load_waveforms, read_waveforms, save_waveforms
from .spice import SpiceSimulationError, check_timeout, check_tools, model_library, run_ngspice


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
    energy_meters: bool = False,
) -> SampleResult:
    """Simulate one job; never raises for a failed simulation (``ok=False`` with ``cause``).

    ``energy_meters``: simulate the metered netlist (:func:`~imcpnn.circuit.netlist.build_network_netlist`) and
    record the inference's energy (:attr:`SampleResult.energy`); :func:`run_samples` always does. Without it,
    the netlist with the shared supplies (the subcircuit export's): the same circuit, no energy; its spike times
    differ from the metered one's by solver noise (within 0.05 ns: the extra source branches shift ngspice's
    time steps).

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
            config, job.biases, job.input_times, library, title=job.key, extra_lines=job.extra_lines,
            energy_meters=energy_meters,
        )  # fmt: skip
        data = run_ngspice(
            netlist.text, folder, vectors=list(netlist.written_vectors), timeout_s=timeout_s, name="sample"
        )
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
        energy = None
        if energy_meters:
            events = synaptic_events(job.biases, job.input_times, spikes, config)
            currents = {meter.vector: data[meter.vector] for meter in netlist.meters}
            energy = spice_energy(data["time"], currents, netlist.meters, config, events)
        return SampleResult(
            job.key, True, spikes, wall_s=time.perf_counter() - started,
            waveforms=waveforms if keep_waveforms else None, digest=digest, energy=energy,
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
    progress: SimulationProgress | None = None,
    require_energy: bool = False,
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
    aside. ``progress`` counts the reused results and each simulation as it ends
    (:class:`~imcpnn.circuit.progress.SimulationProgress`). ``require_energy``: a reused success must carry its
    energy (:attr:`SampleResult.energy`); one without (recorded before the energy meters) is simulated again.
    Returns the results of all ``jobs`` by key.
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
    for old in load_cache(results_path, log):  # the last record of a (key, digest) wins
        cached[(old.key, old.digest)] = old
    results: dict[str, SampleResult] = {}
    unreadable: list[Path] = []
    for key in keys:
        previous = cached.get((key, digests[key]))
        if previous is None or not previous.reusable_for(digests[key], timeout_s, retry_failed):
            continue
        if previous.ok and not _has_layout(previous, config):
            continue
        if previous.ok and require_energy and previous.energy is None:
            continue  # a record of before the energy meters: simulate again to have its energy
        if previous.ok and waveform_dir is not None:
            path = Path(waveform_dir) / f"{key}.npz"
            try:
                waveforms, stored = read_waveforms(path) if path.exists() else (None, "")
            except UnreadableWaveforms as error:
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
    if progress is not None and results:
        progress.reused(len(results))
    if not todo:
        return {key: results[key] for key in keys}
    check_tools()  # a missing ngspice or sky130 is one clear error, not a failure recorded per sample
    library = model_library(corner=config.corner)  # build the cached library once, before forking
    keep = keep_waveforms or waveform_dir is not None
    options = {"library": library, "timeout_s": timeout_s, "keep_waveforms": keep, "energy_meters": True}
    total = len(todo)
    with results_path.open("a") as cache:

        def record(result: SampleResult) -> None:
            results[result.key] = result
            if waveform_dir is not None and result.ok:
                save_waveforms(Path(waveform_dir), result)
            if not keep_waveforms:
                result.waveforms = None
            cache.write(json.dumps(result.to_record()) + "\n")
            cache.flush()
            if progress is not None:
                progress.finished(result)

        if workers == 1 or total == 1:
            for job in todo:
                record(_simulate_or_crash(job, config, **options))
        else:
            pool = ProcessPoolExecutor(
                max_workers=min(workers, total), mp_context=pool_context(), initializer=worker_init,
                initargs=(os.getpid(),),
            )  # fmt: skip
            try:
                futures: dict[Future[SampleResult], SampleJob] = {
                    pool.submit(run_in_worker, _simulate_or_crash, job, config, **options): job for job in todo
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
                stop_pool(pool)
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
