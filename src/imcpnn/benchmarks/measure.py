"""Process-isolated measurement: every case runs in a fresh Python process, so its peak memory is its own.

The child is ``python -m imcpnn.benchmarks.measure SPEC_JSON`` (``python -m imcpnn.benchmarks.speed``
is the same entry point); it prints one line ``RESULT {record}``. Peak memory:

- CPU: the child runs with glibc's ``MALLOC_MMAP_THRESHOLD_=65536`` (large blocks are mmapped and
  returned on free, so the resident set follows the live tensors), resets its resident-set
  high-water mark (``/proc/self/clear_refs``, value 5) after imports, data creation and a warm-up
  on 2 samples, reads its resident set ``VmRSS`` as the baseline, runs the batches, and reports
  ``VmHWM - baseline`` (bytes; ``getrusage``'s ``ru_maxrss`` where the reset is not possible);
- CUDA: ``torch.cuda.max_memory_allocated() - memory_allocated()`` at the baseline.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from .records import BoundRecord, BoundSpec, CaseRecord, CaseSpec
from .settings import BenchSettings
from .workload import bound_products, forward_backward, fused_bound_product, make_inputs, make_weight, steps_for

CHILD_MODULE = "imcpnn.benchmarks.measure"
MMAP_THRESHOLD_BYTES = 65536


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _resident_bytes(field: str = "VmRSS") -> int:
    """Resident set size of this process from ``/proc/self/status``, bytes: ``VmRSS`` (now) or
    ``VmHWM`` (the high-water mark since the last reset)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_resident() -> bool:
    """Reset the high-water mark of the resident set (Linux >= 4.0); False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """Peak memory above a baseline: CPU resident set (``VmHWM``) or CUDA allocator, bytes."""

    def __init__(self, device: str) -> None:
        self.device = device
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.baseline = torch.cuda.memory_allocated()
            self.reset = True
        else:
            self.reset = _reset_peak_resident()
            self.baseline = _resident_bytes()

    def peak_bytes(self) -> int:
        # Imported here, inside the measured span, as the benchmark always has: its pages (about 24 KiB)
        # are part of every CPU peak, which keeps the figures comparable with earlier runs.
        import resource

        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            return int(torch.cuda.max_memory_allocated() - self.baseline)
        if self.reset:
            # VmHWM, not getrusage's ru_maxrss: the latter also keeps the peak of the forked parent's
            # memory image from before exec (a parent holding 800 MiB made every child read >= 800 MiB).
            return int(_resident_bytes("VmHWM") - self.baseline)
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - self.baseline)


def measure_case(spec: CaseSpec, settings: BenchSettings) -> CaseRecord:
    """Time and peak memory of one case (run this in a fresh process; see :func:`run_case`)."""
    model, method, n_in = spec.model, spec.method, spec.n_in
    n_out = spec.n_out or settings.n_out
    samples = spec.samples or settings.samples
    if spec.batch:
        settings = replace(settings, batch=spec.batch)
    if spec.dtype:
        settings = replace(settings, dtype=spec.dtype)
    stats: dict[str, int] | None = {} if method == "ode" else None
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    times = make_inputs(samples, n_in, settings, settings.seed)
    weight = make_weight(model, n_in, n_out, settings, settings.seed)
    forward_backward(model, method, times[:2], weight, settings, ode=spec.ode, stats=stats)  # warm-up
    memory = PeakMemory(settings.device)
    n_batches = math.ceil(samples / settings.batch)
    budget = settings.max_case_seconds
    batch_seconds: list[float] = []
    fired = 0
    measured = 0
    nfe: list[int] = []
    for b in range(n_batches):
        chunk = times[b * settings.batch : (b + 1) * settings.batch]
        _synchronize(settings.device)
        start = time.perf_counter()
        out = forward_backward(model, method, chunk, weight, settings, ode=spec.ode, stats=stats)
        if stats:
            nfe.append(stats["nfe"])
        _synchronize(settings.device)
        batch_seconds.append(time.perf_counter() - start)
        fired += int(torch.isfinite(out).sum())
        measured += chunk.shape[0]
        if budget is not None and sum(batch_seconds) + batch_seconds[-1] > budget:
            break
    peak = memory.peak_bytes()
    return CaseRecord(
        model=model,
        method=method,
        n_in=n_in,
        n_out=n_out,
        steps=steps_for(model, settings) if method == "dstd" else None,
        seconds=sum(batch_seconds) * samples / measured,
        peak_bytes=peak,
        samples=samples,
        samples_measured=measured,
        extrapolated=measured < samples,
        batch=settings.batch,
        batch_seconds_min=min(batch_seconds),
        batch_seconds_median=sorted(batch_seconds)[len(batch_seconds) // 2],
        fired_fraction=fired / (measured * n_out),
        dtype=settings.dtype,
        threads=torch.get_num_threads(),
        load_average=os.getloadavg(),
        peak_reset=memory.reset,
        ode=spec.ode if method == "ode" else None,
        nfe_forward=tuple(nfe) if method == "ode" else None,
    )


def measure_bound(spec: BoundSpec, settings: BenchSettings) -> BoundRecord:
    """DSTD's batch time against the bound's, alternating ``bound_repeats`` times in one process.

    Returns the fastest batch of each (``dstd``, ``bound``: the ``2M`` products, ``fused``: one
    stacked product) and ``dstd_over_bound`` (fastest over fastest) plus the median of the ratios of
    each repetition.
    """
    model, n_in = spec.model, spec.n_in
    steps = steps_for(model, settings)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    times = make_inputs(settings.batch, n_in, settings, settings.seed)
    weight = make_weight(model, n_in, settings.n_out, settings, settings.seed)
    runs: dict[str, Callable[[], Any]] = {
        "dstd": lambda: forward_backward(model, "dstd", times, weight, settings),
        "bound": lambda: bound_products(times, weight, steps),
        "fused": lambda: fused_bound_product(times, weight, steps),
    }
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(settings.bound_repeats + 1):
        for name, run in runs.items():
            _synchronize(settings.device)
            start = time.perf_counter()
            run()
            _synchronize(settings.device)
            if repeat:  # the first round is a warm-up
                seconds[name].append(time.perf_counter() - start)
    ratios = sorted(d / b for d, b in zip(seconds["dstd"], seconds["bound"], strict=True))
    fused_ratios = sorted(d / b for d, b in zip(seconds["dstd"], seconds["fused"], strict=True))
    return BoundRecord(
        model=model,
        n_in=n_in,
        n_out=settings.n_out,
        steps=steps,
        batch=settings.batch,
        repeats=settings.bound_repeats,
        dstd_batch_seconds=min(seconds["dstd"]),
        bound_batch_seconds=min(seconds["bound"]),
        fused_bound_batch_seconds=min(seconds["fused"]),
        dstd_over_bound=min(seconds["dstd"]) / min(seconds["bound"]),
        dstd_over_bound_median=ratios[len(ratios) // 2],
        dstd_over_fused_bound=min(seconds["dstd"]) / min(seconds["fused"]),
        dstd_over_fused_bound_median=fused_ratios[len(fused_ratios) // 2],
    )


def child_main(argv: Sequence[str]) -> int:
    """The child process: measure the case of ``argv[0]`` (JSON) and print ``RESULT {record}``."""
    payload = json.loads(argv[0])
    settings = BenchSettings.from_dict(payload["settings"])
    if payload.get("kind", "case") == "bound":
        record: CaseRecord | BoundRecord = measure_bound(BoundSpec.from_dict(payload), settings)
    else:
        record = measure_case(CaseSpec.from_dict(payload), settings)
    print("RESULT " + json.dumps(record.to_dict()), flush=True)
    return 0


def _run_child(spec: CaseSpec | BoundSpec, settings: BenchSettings) -> Mapping[str, Any] | str:
    """The record a fresh child process prints for ``spec``, or why there is none."""
    payload = json.dumps({**spec.to_dict(), "settings": settings.to_dict()})
    env = dict(os.environ)
    # A fixed mmap threshold: glibc then serves every allocation over 64 KiB by mmap and returns it on
    # free, so the resident set follows the live tensors instead of the heap's high-water mark (with
    # the default, adaptive threshold, freed 4 MiB blocks stay in the heap and fragment it: DSTD's
    # RC-Spike peak read 96 MiB instead of 53 MiB at B = 100, N_in = 1000). Same setting for every method.
    env.setdefault("MALLOC_MMAP_THRESHOLD_", str(MMAP_THRESHOLD_BYTES))
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "") if env.get("PYTHONPATH") else src
    try:
        proc = subprocess.run(
            [sys.executable, "-m", CHILD_MODULE, payload],
            capture_output=True,
            text=True,
            timeout=settings.case_timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {settings.case_timeout:g} s"
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    reason = f"exit status {proc.returncode}" + (" (killed: out of memory?)" if proc.returncode in (-9, 137) else "")
    return reason + (": " + " | ".join(tail) if tail else "")


def run_case(spec: CaseSpec, settings: BenchSettings) -> CaseRecord:
    """Run :func:`measure_case` in a fresh Python process.

    A child that fails, runs out of memory or time gives a record with ``status`` ``"failed"`` and the
    reason, and ``seconds``/``peak_bytes`` ``None``.
    """
    result = _run_child(spec, settings)
    return CaseRecord.failed(spec, result) if isinstance(result, str) else CaseRecord.from_dict(result)


def run_bound(spec: BoundSpec, settings: BenchSettings) -> BoundRecord:
    """Run :func:`measure_bound` in a fresh Python process (a failure as in :func:`run_case`)."""
    result = _run_child(spec, settings)
    return BoundRecord.failed(spec, result) if isinstance(result, str) else BoundRecord.from_dict(result)


def exact_memory_estimate(n_in: int, settings: BenchSettings, batch: int | None = None) -> int:
    """Rough peak bytes of the exact solver's forward + backward on one batch (about ``8 B N_in 2 N_out`` elements).

    Measured on this machine: 5.7 GiB (RC-Spike) and 6.4 GiB (TTFS) at ``B = 100, N_in = N_out = 1000``.
    """
    element = 8 if settings.dtype == "float64" else 4
    return 8 * (batch or settings.batch) * (n_in + 1) * 2 * settings.n_out * element


def available_memory_bytes() -> int | None:
    """``MemAvailable`` from ``/proc/meminfo``, bytes (``None`` where unknown)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def run_within_memory(spec: CaseSpec, settings: BenchSettings) -> CaseRecord:
    """Run a case; an exact case too large for the free memory runs on a smaller batch, scaled back.

    The exact solver's memory is ``O(B N_in N_out)``: linear in the batch up to the weight-sized
    terms (``O(N_in N_out)``, 1 % here), so the peak is scaled by ``batch / smaller batch`` and the
    time per sample kept (both marked in the record with ``memory_scaled_from_batch``).
    """
    available = available_memory_bytes() if settings.device == "cpu" else None
    if spec.method != "exact":
        return run_case(spec, settings)
    if available is None:
        available = 2**62  # CUDA: the allocator's own limit applies
    first = min(settings.exact_batch or settings.batch, settings.batch)
    for batch in (first, first // 2, first // 4, first // 10):
        if batch >= 1 and exact_memory_estimate(spec.n_in, settings, batch) <= 0.8 * available:
            break
    else:
        needed = exact_memory_estimate(spec.n_in, settings)
        reason = f"needs about {needed / 2**30:.1f} GiB, {available / 2**30:.1f} GiB free"
        return CaseRecord.skipped(spec, settings.n_out, reason)
    if batch == settings.batch:
        return run_case(spec, settings)
    record = run_case(replace(spec, batch=batch), settings)
    if not record.ok:
        return record
    return replace(
        record,
        memory_scaled_from_batch=batch,
        peak_bytes_measured=record.peak_bytes,
        peak_bytes=int(record.peak_bytes * settings.batch / batch),
        batch=settings.batch,
    )


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
