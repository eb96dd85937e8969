"""Speed and peak memory of one layer: DSTD against the exact solver, a generic ODE solver and the bound.

The setup of the paper's Fig. 3c-f: one fully connected layer of ``N_out = 1000`` neurons, input spike
times uniform in ``[0, 1]``, 1000 samples in mini-batches of 100, forward and backward (loss = sum of
the output spike times; gradients with respect to the weights and the input times). RC-Spike with
``M = 10``, TTFS with ``M = 20``. Every case runs in a fresh subprocess (``python -m
imcpnn.benchmarks.speed CASE_JSON``), so that its peak memory is its own:

- CPU: the child runs with glibc's ``MALLOC_MMAP_THRESHOLD_=65536`` (large blocks are mmapped and
  returned on free, so the resident set follows the live tensors), resets its resident-set
  high-water mark (``/proc/self/clear_refs``, value 5) after imports, data creation and a warm-up
  on 2 samples, reads its resident set ``VmRSS`` as the baseline, runs the batches, and reports
  ``VmHWM - baseline`` (bytes; ``getrusage``'s ``ru_maxrss`` where the reset is not possible);
- CUDA: ``torch.cuda.max_memory_allocated() - memory_allocated()`` at the baseline.

The bound (``method="bound"``) is the ``2M`` dense products ``[B, N_in] x [N_in, N_out]`` of the same
shapes, forward and backward (each product's input and weight gradients), timed in the same child as
DSTD, alternating, and compared by the fastest of several repetitions. See ``docs/benchmarks.md``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..atomic import write_json

MODELS = ("rcspike", "ttfs")
MMAP_THRESHOLD_BYTES = 65536
METHODS = ("exact", "dstd", "ode")


@dataclass(frozen=True)
class BenchSettings:
    """What one benchmark run measures. Times are normalised (one circuit phase = 1).

    ``max_case_seconds`` caps the time spent on one slow case: at least one batch is always run, and
    when fewer than ``samples`` samples fit, ``seconds`` is extrapolated linearly from the measured
    batches to ``samples`` (the case records ``samples_measured``).
    """

    n_ins: tuple[int, ...] = (100, 300, 1000, 3000)
    n_out: int = 1000
    samples: int = 1000
    batch: int = 100
    rc_steps: int = 10
    ttfs_steps: int = 20
    e_rev: float = 2.0  # E+ = -E- (normalised potential)
    ttfs_window: float = 4.0  # TTFS window T; inputs stay in [0, 1]
    ttfs_t_ref: float = 3.2  # the initialisation's target firing time (imcpnn.layers.ttfs_weight_bound)
    device: str = "cpu"
    dtype: str = "float32"
    seed: int = 0
    max_case_seconds: float | None = None
    bound_repeats: int = 7
    summary_n_in: int = 1000
    include_ode: bool = True
    # settings of the torchdiffeq baseline (see .ode.run_ode_baseline); TTFS on a 100-neuron layer:
    # its dense-output solves at the tolerances DSTD's error asks for take minutes per batch at 1000
    ode: dict[str, Any] = field(
        default_factory=lambda: {"ttfs_n_out": 100, "ttfs_samples": 100, "ttfs_sweep_samples": 10}
    )
    case_timeout: float = 3600.0  # seconds before a child is killed
    threads: int | None = None  # torch intra-op threads in the children (None: torch's default)
    exact_batch: int | None = None  # run exact cases on this smaller batch, peak scaled to ``batch`` (quick)


def quick_settings(**changes: Any) -> BenchSettings:
    """``--quick``: only ``N_in = 1000``, 200 samples, one torch thread, a small ODE run (RC-Spike only, 100
    neurons), and the exact cases on batches of 25 (time per sample extrapolated to 200 samples after 20 s,
    peak scaled by 4)."""
    base = BenchSettings(
        n_ins=(1000,),
        samples=200,
        max_case_seconds=20.0,
        exact_batch=25,
        bound_repeats=3,
        threads=1,
        ode={"samples": 100, "n_out": 100, "sweep_samples": 20, "ttfs": False},
    )
    return replace(base, **changes)


# --------------------------------------------------------------------------------------------------
# The layer and one forward + backward pass (used inside the child process).


def steps_for(model: str, settings: BenchSettings) -> int:
    """DSTD grid intervals ``M`` of a model."""
    return settings.rc_steps if model == "rcspike" else settings.ttfs_steps


def make_weight(model: str, n_in: int, n_out: int, settings: BenchSettings, seed: int) -> Any:
    """Weights ``[N_out, N_in]``: RC-Spike ``N(0, (2/sqrt(N_in))²)``; TTFS ``U(-b/2, 3b/2)``.

    ``b`` is :func:`imcpnn.layers.ttfs_weight_bound` (spec section 6, one layer, ``t_ref``): the mean
    weight ``b/2`` is the paper's ``U(0, b)``'s, so the mean drive fires a neuron near ``t_ref``, inside
    the window (every neuron fires here). A quarter of the weights are negative so that both ``E+`` and
    ``E-`` act: with non-negative weights ``f = g/E+`` and DSTD is exact (``v`` depends on ``∫g`` only).
    """
    import torch

    from ..layers import ttfs_weight_bound

    generator = torch.Generator().manual_seed(seed + 1)
    dtype = getattr(torch, settings.dtype)
    if model == "rcspike":
        weight = 2.0 / math.sqrt(n_in) * torch.randn(n_out, n_in, generator=generator, dtype=dtype)
    else:
        bound = ttfs_weight_bound(n_in, 1, settings.e_rev, t_ref=settings.ttfs_t_ref)
        weight = bound * (2.0 * torch.rand(n_out, n_in, generator=generator, dtype=dtype) - 0.5)
    return weight.to(settings.device)


def make_inputs(samples: int, n_in: int, settings: BenchSettings, seed: int) -> Any:
    """Input spike times ``[samples, N_in]`` uniform in ``[0, 1]``."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    return torch.rand(samples, n_in, generator=generator, dtype=getattr(torch, settings.dtype)).to(settings.device)


def layer_outputs(model: str, method: str, times: Any, weight: Any, settings: BenchSettings, **ode: Any) -> Any:
    """Output spike times ``[B, N_out]`` of the layer (``+inf`` for a silent TTFS neuron)."""
    from .. import functional as fn

    kw = {"e_rev_pos": settings.e_rev, "e_rev_neg": -settings.e_rev}
    if method == "ode":
        from . import ode as ode_baseline

        if model == "rcspike":
            return ode_baseline.rc_spike_times(times, weight, settings.e_rev, **ode)
        return ode_baseline.ttfs_spike_times(times, weight, settings.e_rev, settings.ttfs_window, **ode)
    steps = steps_for(model, settings)
    if model == "rcspike":
        return fn.rc_spike_fire(fn.rc_spike_potential(times, weight, method=method, steps=steps, **kw))
    return fn.ttfs_spike_times(times, weight, window=settings.ttfs_window, method=method, steps=steps, **kw)


def forward_backward(model: str, method: str, times: Any, weight: Any, settings: BenchSettings, **ode: Any) -> Any:
    """One mini-batch: outputs, loss = sum of the (finite) output times, gradients. Returns the outputs."""
    import torch

    times = times.detach().requires_grad_(method != "ode")  # a generic ODE solver has no time gradient
    weight = weight.detach().requires_grad_()
    out = layer_outputs(model, method, times, weight, settings, **ode)
    loss = torch.where(torch.isfinite(out), out, torch.zeros_like(out)).sum()
    loss.backward()
    return out.detach()


def _bound_products(times: Any, weight: Any, steps: int) -> None:
    """The bound: ``2M`` products ``[B, N_in] x [N_in, N_out]`` (``M`` on ``w``, ``M`` on a second
    weight like ``βw``), forward and backward (input and weight gradients), loss = sum of outputs.
    Each product has its own input leaf, so no gradient is scattered into a shared buffer."""
    import torch

    inputs = [times.detach().clone().requires_grad_() for _ in range(2 * steps)]
    weights = [weight.detach().clone().requires_grad_() for _ in range(2)]
    total = torch.zeros((), dtype=times.dtype, device=times.device)
    for m in range(2 * steps):
        total = total + torch.matmul(inputs[m], weights[m // steps].t()).sum()
    total.backward()


def _fused_bound_product(times: Any, weight: Any, steps: int) -> None:
    """The same work as one product ``[M B, N_in] x [N_in, 2 N_out]`` (what DSTD does), forward and backward."""
    import torch

    inputs = times.detach().unsqueeze(0).expand(steps, -1, -1).reshape(-1, times.shape[1]).clone().requires_grad_()
    stacked = torch.cat([weight.detach(), weight.detach()], dim=0).requires_grad_()
    torch.matmul(inputs, stacked.t()).sum().backward()


# --------------------------------------------------------------------------------------------------
# Measurement inside a fresh child process.


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        import torch

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


class _PeakMemory:
    """Peak memory above a baseline: CPU resident set (``ru_maxrss``) or CUDA allocator, bytes."""

    def __init__(self, device: str) -> None:
        self.device = device
        import torch

        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.baseline = torch.cuda.memory_allocated()
            self.reset = True
        else:
            self.reset = _reset_peak_resident()
            self.baseline = _resident_bytes()

    def peak_bytes(self) -> int:
        import resource

        import torch

        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            return int(torch.cuda.max_memory_allocated() - self.baseline)
        if self.reset:
            # VmHWM, not getrusage's ru_maxrss: the latter also keeps the peak of the forked parent's
            # memory image from before exec (a parent holding 800 MiB made every child read >= 800 MiB).
            return int(_resident_bytes("VmHWM") - self.baseline)
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - self.baseline)


def measure_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Time and peak memory of one case (run this in a fresh process; see :func:`run_case`).

    ``spec``: ``model``, ``method``, ``n_in``, ``settings`` (a :class:`BenchSettings` as a dict) and,
    for ``method="ode"``, ``ode`` (keyword arguments of the baseline). Returns the case record.
    """
    import torch

    settings = BenchSettings(**{**spec["settings"], "n_ins": tuple(spec["settings"]["n_ins"])})
    model, method, n_in = spec["model"], spec["method"], int(spec["n_in"])
    n_out = int(spec.get("n_out", settings.n_out))
    samples = int(spec.get("samples", settings.samples))
    if spec.get("batch"):
        settings = replace(settings, batch=int(spec["batch"]))
    if spec.get("dtype"):
        settings = replace(settings, dtype=str(spec["dtype"]))
    ode_kw = dict(spec.get("ode_kw", {}))
    stats: dict[str, Any] = {}
    extra = {"stats": stats} if method == "ode" else {}
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    times = make_inputs(samples, n_in, settings, settings.seed)
    weight = make_weight(model, n_in, n_out, settings, settings.seed)
    forward_backward(model, method, times[:2], weight, settings, **ode_kw, **extra)  # warm-up: threads, kernels
    memory = _PeakMemory(settings.device)
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
        out = forward_backward(model, method, chunk, weight, settings, **ode_kw, **extra)
        if stats:
            nfe.append(stats["nfe"])
        _synchronize(settings.device)
        batch_seconds.append(time.perf_counter() - start)
        fired += int(torch.isfinite(out).sum())
        measured += chunk.shape[0]
        if budget is not None and sum(batch_seconds) + batch_seconds[-1] > budget:
            break
    peak = memory.peak_bytes()
    seconds = sum(batch_seconds) * samples / measured
    record: dict[str, Any] = {
        "model": model,
        "method": method,
        "n_in": n_in,
        "n_out": n_out,
        "steps": steps_for(model, settings) if method == "dstd" else None,
        "seconds": seconds,
        "peak_bytes": peak,
        "samples": samples,
        "samples_measured": measured,
        "extrapolated": measured < samples,
        "batch": settings.batch,
        "batch_seconds_min": min(batch_seconds),
        "batch_seconds_median": sorted(batch_seconds)[len(batch_seconds) // 2],
        "fired_fraction": fired / (measured * n_out),
        "dtype": settings.dtype,
        "threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
        "peak_reset": memory.reset,
        "status": "ok",
    }
    if method == "ode":
        record["ode"] = ode_kw
        record["nfe_forward"] = nfe
    return record


def measure_bound(spec: dict[str, Any]) -> dict[str, Any]:
    """DSTD's batch time against the bound's, alternating ``bound_repeats`` times in one process.

    Returns the fastest batch of each (``dstd``, ``bound``: the ``2M`` products, ``fused``: one
    stacked product) and ``dstd_over_bound`` (fastest over fastest) plus the median of the ratios of
    each repetition.
    """
    import torch

    settings = BenchSettings(**{**spec["settings"], "n_ins": tuple(spec["settings"]["n_ins"])})
    model, n_in = spec["model"], int(spec["n_in"])
    steps = steps_for(model, settings)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    times = make_inputs(settings.batch, n_in, settings, settings.seed)
    weight = make_weight(model, n_in, settings.n_out, settings, settings.seed)
    runs: dict[str, Callable[[], Any]] = {
        "dstd": lambda: forward_backward(model, "dstd", times, weight, settings),
        "bound": lambda: _bound_products(times, weight, steps),
        "fused": lambda: _fused_bound_product(times, weight, steps),
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
    return {
        "model": model,
        "n_in": n_in,
        "n_out": settings.n_out,
        "steps": steps,
        "batch": settings.batch,
        "repeats": settings.bound_repeats,
        "dstd_batch_seconds": min(seconds["dstd"]),
        "bound_batch_seconds": min(seconds["bound"]),
        "fused_bound_batch_seconds": min(seconds["fused"]),
        "dstd_over_bound": min(seconds["dstd"]) / min(seconds["bound"]),
        "dstd_over_bound_median": ratios[len(ratios) // 2],
        "dstd_over_fused_bound": min(seconds["dstd"]) / min(seconds["fused"]),
        "dstd_over_fused_bound_median": fused_ratios[len(fused_ratios) // 2],
        "status": "ok",
    }


def _child_main(argv: Sequence[str]) -> int:
    spec = json.loads(argv[0])
    kind = spec.get("kind", "case")
    record = measure_bound(spec) if kind == "bound" else measure_case(spec)
    print("RESULT " + json.dumps(record), flush=True)
    return 0


def _settings_dict(settings: BenchSettings) -> dict[str, Any]:
    return {**asdict(settings), "n_ins": list(settings.n_ins)}


def run_case(spec: dict[str, Any], settings: BenchSettings) -> dict[str, Any]:
    """Run :func:`measure_case` (or, with ``kind="bound"``, :func:`measure_bound`) in a fresh Python process.

    A child that fails, runs out of memory or time returns a record with ``status`` ``"failed"`` and
    the reason, and ``seconds``/``peak_bytes`` ``None``.
    """
    payload = json.dumps({**spec, "settings": _settings_dict(settings)})
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
            [sys.executable, "-m", "imcpnn.benchmarks.speed", payload],
            capture_output=True,
            text=True,
            timeout=settings.case_timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return _failed(spec, f"timed out after {settings.case_timeout:g} s")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    reason = f"exit status {proc.returncode}" + (" (killed: out of memory?)" if proc.returncode in (-9, 137) else "")
    return _failed(spec, reason + (": " + " | ".join(tail) if tail else ""))


def _failed(spec: dict[str, Any], reason: str) -> dict[str, Any]:
    fields = {k: spec.get(k) for k in ("model", "method", "n_in") if k in spec}
    return {**fields, "seconds": None, "peak_bytes": None, "status": "failed", "reason": reason}


def _skipped(spec: dict[str, Any], settings: BenchSettings, reason: str) -> dict[str, Any]:
    record = {
        "model": spec["model"],
        "method": spec["method"],
        "n_in": spec["n_in"],
        "n_out": settings.n_out,
        "steps": None,
        "seconds": None,
        "peak_bytes": None,
        "status": "skipped",
        "reason": reason,
    }
    return record


# --------------------------------------------------------------------------------------------------
# The whole run.


def exact_memory_estimate(n_in: int, settings: BenchSettings, batch: int | None = None) -> int:
    """Rough peak bytes of the exact solver's forward + backward on one batch (about ``8 B N_in 2 N_out`` elements).

    Measured on this machine: 5.7 GiB (RC-Spike) and 6.4 GiB (TTFS) at ``B = 100, N_in = N_out = 1000``.
    """
    element = 8 if settings.dtype == "float64" else 4
    return 8 * (batch or settings.batch) * (n_in + 1) * 2 * settings.n_out * element


def _run_within_memory(spec: dict[str, Any], settings: BenchSettings) -> dict[str, Any]:
    """Run a case; an exact case too large for the free memory runs on a smaller batch, scaled back.

    The exact solver's memory is ``O(B N_in N_out)``: linear in the batch up to the weight-sized
    terms (``O(N_in N_out)``, 1 % here), so the peak is scaled by ``batch / smaller batch`` and the
    time per sample kept (both marked in the record with ``memory_scaled_from_batch``).
    """
    available = available_memory_bytes() if settings.device == "cpu" else None
    if spec["method"] != "exact":
        return run_case(spec, settings)
    if available is None:
        available = 2**62  # CUDA: the allocator's own limit applies
    first = min(settings.exact_batch or settings.batch, settings.batch)
    for batch in (first, first // 2, first // 4, first // 10):
        if batch >= 1 and exact_memory_estimate(spec["n_in"], settings, batch) <= 0.8 * available:
            break
    else:
        needed = exact_memory_estimate(spec["n_in"], settings)
        return _skipped(spec, settings, f"needs about {needed / 2**30:.1f} GiB, {available / 2**30:.1f} GiB free")
    if batch == settings.batch:
        return run_case(spec, settings)
    record = run_case({**spec, "batch": batch}, settings)
    if record.get("status") == "ok":
        record["memory_scaled_from_batch"] = batch
        record["peak_bytes_measured"] = record["peak_bytes"]
        record["peak_bytes"] = int(record["peak_bytes"] * settings.batch / batch)
        record["batch"] = settings.batch
    return record


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


def machine_description(device: str) -> dict[str, Any]:
    """CPU model, cores, memory and the torch build: what the figures were measured on."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    total = None
    try:
        with open("/proc/meminfo") as meminfo:
            total = int(meminfo.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    description = {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_bytes": total,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": device,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        description["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return description


def _find(cases: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    for case in cases:
        if all(case.get(k) == v for k, v in match.items()):
            return case
    return None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def summarise(result: dict[str, Any], n_in: int = 1000) -> dict[str, Any]:
    """The ``summary`` object: exact over DSTD (time, memory) per model and DSTD over the bound, at ``n_in``.

    ``dstd_over_bound`` is RC-Spike's (``M = 10``, ``2M = 20`` products); ``ttfs_dstd_over_bound`` TTFS's.
    """
    cases, bounds = result["cases"], result.get("bounds", [])
    summary: dict[str, Any] = {"n_in": n_in}
    for model, prefix in (("rcspike", "rcspike"), ("ttfs", "ttfs")):
        exact = _find(cases, model=model, method="exact", n_in=n_in, status="ok") or {}
        dstd = _find(cases, model=model, method="dstd", n_in=n_in, status="ok") or {}
        summary[f"{prefix}_time_ratio"] = _ratio(exact.get("seconds"), dstd.get("seconds"))
        summary[f"{prefix}_memory_ratio"] = _ratio(exact.get("peak_bytes"), dstd.get("peak_bytes"))
        ode = ((result.get("ode") or {}).get("models") or {}).get(model)
        if ode is not None:
            summary[f"{prefix}_ode_time_ratio"] = ode.get("time_ratio")
            summary[f"{prefix}_ode_memory_ratio"] = ode.get("memory_ratio")
            summary[f"{prefix}_ode_rtol"] = ode.get("chosen_rtol")
    rc_bound = _find(bounds, model="rcspike", n_in=n_in, status="ok") or {}
    ttfs_bound = _find(bounds, model="ttfs", n_in=n_in, status="ok") or {}
    summary["dstd_over_bound"] = rc_bound.get("dstd_over_bound")
    summary["dstd_over_fused_bound"] = rc_bound.get("dstd_over_fused_bound")
    summary["ttfs_dstd_over_bound"] = ttfs_bound.get("dstd_over_bound")
    summary["ttfs_dstd_over_fused_bound"] = ttfs_bound.get("dstd_over_fused_bound")
    return summary


def run_benchmark(
    settings: BenchSettings | None = None,
    *,
    quick: bool = False,
    json_path: Path | str | None = None,
    progress: Callable[[str], None] | None = print,
    **changes: Any,
) -> dict[str, Any]:
    """Run every case (each in a fresh subprocess) and return ``{machine, settings, cases, bounds, ode, summary}``.

    ``settings`` (default :class:`BenchSettings`, or :func:`quick_settings` with ``quick=True``) may be
    adjusted by keyword (``device="cuda"``, ``n_ins=(100, 1000)``, ...). With ``json_path`` the result
    is written there (atomically) after every case, so an interrupted run keeps what it measured.
    """
    if settings is None:
        settings = quick_settings() if quick else BenchSettings()
    if changes:
        settings = replace(settings, **changes)
    if settings.summary_n_in not in settings.n_ins:
        settings = replace(settings, n_ins=tuple(sorted({*settings.n_ins, settings.summary_n_in})))
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "machine": machine_description(settings.device),
        "settings": _settings_dict(settings),
        "quick": quick,
        "cases": [],
        "bounds": [],
        "ode": None,
    }

    def save() -> None:
        result["summary"] = summarise(result, settings.summary_n_in)
        result["wall_seconds"] = time.perf_counter() - started
        if json_path is not None:
            write_json(json_path, result, allow_nan=False)

    for n_in in settings.n_ins:
        for model in MODELS:
            for method in ("dstd", "exact"):
                spec = {"kind": "case", "model": model, "method": method, "n_in": n_in}
                record = _run_within_memory(spec, settings)
                result["cases"].append(record)
                say(format_case(record))
                save()
            bound = run_case({"kind": "bound", "model": model, "n_in": n_in}, settings)
            result["bounds"].append(bound)
            say(format_bound(bound))
            save()
    if settings.include_ode:
        from . import ode as ode_baseline

        result["ode"] = ode_baseline.run_ode_baseline(settings, result, say=say, save=save)
    save()
    say(f"benchmark finished in {time.perf_counter() - started:.0f} s")
    return result


# --------------------------------------------------------------------------------------------------
# Text output.


def _fmt_bytes(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(value) >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:.0f} B"


def _fmt(value: float | None, spec: str = ".3g") -> str:
    return "-" if value is None else format(value, spec)


def format_case(case: dict[str, Any]) -> str:
    """One line per case."""
    head = f"{case.get('model', '?'):>7} {case.get('method', '?'):>5} N_in={case.get('n_in', '?'):>5}"
    if case.get("status") != "ok":
        return f"{head}: {case.get('status')} ({case.get('reason')})"
    note = f" [measured {case['samples_measured']} of {case['samples']} samples]" if case.get("extrapolated") else ""
    if case.get("memory_scaled_from_batch"):
        note += f" [batch {case['memory_scaled_from_batch']}, peak scaled to {case['batch']}]"
    return f"{head}: {case['seconds']:9.3f} s  peak {_fmt_bytes(case['peak_bytes']):>10}{note}"


def format_bound(bound: dict[str, Any]) -> str:
    head = f"{bound.get('model', '?'):>7} bound N_in={bound.get('n_in', '?'):>5}"
    if bound.get("status") != "ok":
        return f"{head}: {bound.get('status')} ({bound.get('reason')})"
    return (
        f"{head}: DSTD batch {bound['dstd_batch_seconds'] * 1e3:.1f} ms, 2M products "
        f"{bound['bound_batch_seconds'] * 1e3:.1f} ms (fused {bound['fused_bound_batch_seconds'] * 1e3:.1f} ms): "
        f"dstd_over_bound {bound['dstd_over_bound']:.2f} (median {bound['dstd_over_bound_median']:.2f})"
    )


def format_markdown(result: dict[str, Any]) -> str:
    """Markdown tables of the cases, the bound and the summary (what ``docs/results.md`` shows)."""
    lines = [
        "| model | N_in | exact time (s) | DSTD time (s) | time ratio | exact peak | DSTD peak | memory ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    cases = result["cases"]
    for n_in in result["settings"]["n_ins"]:
        for model in MODELS:
            exact = _find(cases, model=model, method="exact", n_in=n_in) or {}
            dstd = _find(cases, model=model, method="dstd", n_in=n_in) or {}
            star = "*" if exact.get("extrapolated") else ""
            lines.append(
                f"| {model} | {n_in} | {_fmt(exact.get('seconds'))}{star} | {_fmt(dstd.get('seconds'))} | "
                f"{_fmt(_ratio(exact.get('seconds'), dstd.get('seconds')))} | {_fmt_bytes(exact.get('peak_bytes'))} | "
                f"{_fmt_bytes(dstd.get('peak_bytes'))} | "
                f"{_fmt(_ratio(exact.get('peak_bytes'), dstd.get('peak_bytes')))} |"
            )
    lines += [
        "",
        "| model | N_in | M | DSTD batch (ms) | 2M products (ms) | one fused product (ms) | dstd_over_bound "
        "| over fused |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for bound in result.get("bounds", []):
        if bound.get("status") != "ok":
            continue
        lines.append(
            f"| {bound['model']} | {bound['n_in']} | {bound['steps']} | {bound['dstd_batch_seconds'] * 1e3:.1f} | "
            f"{bound['bound_batch_seconds'] * 1e3:.1f} | {bound['fused_bound_batch_seconds'] * 1e3:.1f} | "
            f"{bound['dstd_over_bound']:.2f} | {bound['dstd_over_fused_bound']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
