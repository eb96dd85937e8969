"""Simulating samples in parallel: one ngspice transient per sample, spike-time extraction, resumable.

Each :class:`SampleJob` (input spike times and the gate biases of every layer) runs in its own
process and folder. Results are appended to a JSON-lines file as they come, so an interrupted run
loses nothing; rerunning with the same file skips the samples already done. A sample that fails
(non-convergence, timeout, netlist error) is recorded with its cause and the others go on.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

import numpy as np

from .config import CircuitConfig
from .netlist import LayerBiases, build_network_netlist, firing_start, membrane_node, spike_node
from .spice import SpiceSimulationError, model_library, run_ngspice


@dataclass(frozen=True)
class SampleJob:
    """One sample to simulate: a unique ``key``, normalised input spike times, gate biases per layer.

    ``extra_lines`` are appended to the netlist (test fixtures such as an ideal current source).
    """

    key: str
    input_times: tuple[float, ...]
    biases: tuple[LayerBiases, ...]
    extra_lines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.key or any(c in self.key for c in "/\\\n"):
            raise ValueError(f"job key must be a non-empty name without slashes or newlines; got {self.key!r}")
        object.__setattr__(self, "input_times", tuple(float(t) for t in self.input_times))
        object.__setattr__(self, "biases", tuple(self.biases))
        object.__setattr__(self, "extra_lines", tuple(self.extra_lines))


@dataclass
class SampleResult:
    """The outcome of one job; ``spike_times[l]`` holds layer ``l+1``'s normalised firing times.

    A neuron that does not fire in its window has ``+inf``. ``waveforms`` (when kept) maps
    ``"time"`` (s) and the probed node names (``mem_l_i``, ``spike_l_i``, ``spike_0_j``) to volts.
    """

    key: str
    ok: bool
    spike_times: list[list[float]] = field(default_factory=list)
    cause: str = ""
    message: str = ""
    wall_s: float = 0.0
    waveforms: dict[str, np.ndarray] | None = None

    def to_record(self) -> dict[str, Any]:
        """A JSON-serialisable record (``+inf`` written as ``null``), without the waveforms."""
        times = [[None if not math.isfinite(t) else t for t in layer] for layer in self.spike_times]
        return {
            "key": self.key,
            "ok": self.ok,
            "spike_times": times,
            "cause": self.cause,
            "message": self.message,
            "wall_s": round(self.wall_s, 3),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SampleResult:
        times = [[math.inf if t is None else float(t) for t in layer] for layer in record.get("spike_times", [])]
        return cls(
            key=record["key"],
            ok=bool(record["ok"]),
            spike_times=times,
            cause=record.get("cause", ""),
            message=record.get("message", ""),
            wall_s=float(record.get("wall_s", 0.0)),
        )


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
    """Simulate one job; never raises for a failed simulation (``ok=False`` with ``cause``)."""
    started = time.perf_counter()
    own_dir = work_dir is None
    folder = Path(tempfile.mkdtemp(prefix=f"imcpnn_{job.key}_")) if own_dir else Path(work_dir) / job.key
    try:
        library = library if library is not None else model_library(corner=config.corner)
        netlist = build_network_netlist(
            config, job.biases, job.input_times, library, title=job.key, extra_lines=job.extra_lines
        )
        data = run_ngspice(netlist.text, folder, vectors=list(netlist.vectors), timeout_s=timeout_s, name="sample")
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
            job.key, True, spikes, wall_s=time.perf_counter() - started, waveforms=waveforms if keep_waveforms else None
        )
    except SpiceSimulationError as error:
        return SampleResult(job.key, False, cause=error.cause, message=str(error), wall_s=time.perf_counter() - started)
    except (ValueError, KeyError, OSError) as error:
        return SampleResult(
            job.key, False, cause=type(error).__name__, message=str(error), wall_s=time.perf_counter() - started
        )
    finally:
        if not keep_files:
            shutil.rmtree(folder, ignore_errors=True)


def load_results(path: Path | str) -> dict[str, SampleResult]:
    """The results recorded in a JSON-lines file (the last record of each key wins); {} if absent.

    A truncated last line (an interrupted write) is ignored.
    """
    path = Path(path)
    results: dict[str, SampleResult] = {}
    if not path.exists():
        return results
    with path.open() as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            results[record["key"]] = SampleResult.from_record(record)
    return results


def _save_waveforms(folder: Path, result: SampleResult) -> None:
    if result.waveforms is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{result.key}.npz"
    tmp = folder / f".{result.key}.tmp.npz"
    np.savez_compressed(
        tmp, **{k: v.astype(np.float64 if k == "time" else np.float32) for k, v in result.waveforms.items()}
    )
    os.replace(tmp, target)


def load_waveforms(folder: Path | str, key: str) -> dict[str, np.ndarray] | None:
    """Waveforms saved by :func:`run_samples` with ``waveform_dir``; None if there are none."""
    path = Path(folder) / f"{key}.npz"
    if not path.exists():
        return None
    with np.load(path) as data:
        return {k: np.asarray(data[k], dtype=float) for k in data.files}


def _pool_context() -> BaseContext:
    """``fork`` where the platform has it: workers only run ngspice and numpy (never torch), and
    fork needs no ``if __name__ == "__main__"`` guard in the caller's script; ``spawn`` elsewhere."""
    return get_context("fork" if "fork" in get_all_start_methods() else "spawn")


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
) -> dict[str, SampleResult]:
    """Simulate ``jobs`` in a process pool, appending each result to ``results_path`` (JSON lines).

        Jobs whose key already has a successful record are skipped (``retry_failed`` also reruns the
        failed ones), so a rerun resumes an interrupted one. ``workers`` defaults to ``os.cpu_count()``;
        ``timeout_s`` bounds each ngspice run. With ``waveform_dir`` each sample's waveforms are saved
        there as ``<key>.npz`` (float32); ``keep_waveforms=False`` drops them from the returned results
    (to save memory in long scale searches). Returns the results of all ``jobs`` by key.
    """
    keys = [job.key for job in jobs]
    if len(set(keys)) != len(keys):
        raise ValueError("job keys must be unique; two jobs share a key")
    workers = int(workers or os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"workers must be >= 1; got {workers}")
    results_path = Path(results_path)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    previous = load_results(results_path)
    done = {k: r for k, r in previous.items() if k in set(keys) and (r.ok or not retry_failed)}
    todo = [job for job in jobs if job.key not in done]
    results: dict[str, SampleResult] = dict(done)
    if waveform_dir is not None and keep_waveforms:
        for key, result in done.items():
            result.waveforms = load_waveforms(waveform_dir, key)
    if not todo:
        return {key: results[key] for key in keys}
    library = model_library(corner=config.corner)  # build the cached library once, before forking
    keep = keep_waveforms or waveform_dir is not None
    total = len(todo)
    with results_path.open("a") as log:

        def record(result: SampleResult) -> None:
            results[result.key] = result
            if waveform_dir is not None and result.ok:
                _save_waveforms(Path(waveform_dir), result)
            if not keep_waveforms:
                result.waveforms = None
            log.write(json.dumps(result.to_record()) + "\n")
            log.flush()
            if progress is not None:
                progress(result, len(results) - len(done), total)

        if workers == 1 or total == 1:
            for job in todo:
                record(simulate_sample(job, config, library=library, timeout_s=timeout_s, keep_waveforms=keep))
        else:
            with ProcessPoolExecutor(max_workers=min(workers, total), mp_context=_pool_context()) as pool:
                futures = {
                    pool.submit(
                        simulate_sample, job, config, library=library, timeout_s=timeout_s, keep_waveforms=keep
                    ): job
                    for job in todo
                }
                for future in as_completed(futures):
                    job = futures[future]
                    try:
                        result = future.result()
                    except Exception as error:  # a crashed worker: record it, keep the others
                        result = SampleResult(job.key, False, cause="worker crashed", message=repr(error))
                    record(result)
    return {key: results[key] for key in keys}


__all__ = [
    "SampleJob",
    "SampleResult",
    "crossing_time",
    "extract_spike_times",
    "load_results",
    "load_waveforms",
    "membrane_node",
    "run_samples",
    "simulate_sample",
]
