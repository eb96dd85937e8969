"""Training-step time and peak memory of whole networks: DSTD RC-Spike at several ``M``, the ideal ANN
(the floor) and DSTD's products alone (the bound); ``imcpnn bench --network NAME``.

Per network: the ANN, then for every ``M`` the DSTD step and the bound (:mod:`.network_workload`), each
case in a fresh Python process (``python -m imcpnn.benchmarks.network CASE_JSON``, which prints
``RESULT {record}``) so that its peak memory is its own, measured as :class:`~.measure.PeakMemory` does
for the layer benchmark (CPU: resident-set high-water mark above the resident set after the warm-up
steps, with glibc's fixed mmap threshold, in a second process: see :func:`run_network_case`; CUDA:
``max_memory_allocated`` above the allocated memory then). ``precision`` runs every step as the trainer's
``--precision`` does. A case runs ``warmup`` untimed steps, then ``repeats`` timed ones (synchronised on CUDA). The
summary's ``dstd_over_bound`` and ``dstd_over_ann`` are DSTD's fastest step over the bound's and the
ANN's at ``M = 4`` (or the first ``M`` measured when 4 is not), as the layer benchmark's
``dstd_over_bound`` is. See ``docs/benchmarks.md``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import torch

from ..atomic import write_json
from ..outdir import check_output_file
from ..training.precision import check_precision, matmul_precision
from .measure import MMAP_THRESHOLD_BYTES, PeakMemory, _synchronize
from .network_records import (
    NetworkBenchResult,
    NetworkBenchSettings,
    NetworkCase,
    NetworkCaseRecord,
    NetworkSummary,
)
from .network_workload import CASES, build_step, intervals_for, resolve_network
from .report import machine_description

CHILD_MODULE = "imcpnn.benchmarks.network"

__all__ = [
    "CASES",
    "NetworkBenchResult",
    "NetworkBenchSettings",
    "NetworkCase",
    "NetworkCaseRecord",
    "NetworkSummary",
    "check_new_json_file",
    "format_record",
    "format_summary",
    "measure_network_case",
    "network_cases",
    "run_network_benchmark",
    "run_network_case",
    "summarise_network",
    "table_header",
]


def network_cases(settings: NetworkBenchSettings) -> list[NetworkCase]:
    """Every case, in the order run: per network the ANN, then per ``M`` DSTD and the bound. Resolving
    the names raises a :class:`ValueError` for an unknown one, before anything runs."""
    cases = []
    for name in settings.networks:
        arch = resolve_network(name)
        cases.append(NetworkCase(name, arch, "ann"))
        for steps in settings.steps:
            cases += [NetworkCase(name, arch, "dstd", steps), NetworkCase(name, arch, "bound", steps)]
    return cases


def measure_network_case(
    case: NetworkCase, settings: NetworkBenchSettings, *, memory_only: bool = False
) -> NetworkCaseRecord:
    """Time and peak memory of one case (in fresh processes; see :func:`run_network_case`). With
    ``memory_only``, one step after the warm-up: its peak is the figure, its time is not."""
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    device = torch.device(settings.device)
    step, parameters = build_step(
        case.case, case.arch, case.steps, batch=settings.batch, e_rev=settings.e_rev,
        spike_noise=settings.spike_noise, lr=settings.lr, device=device, precision=settings.precision,
    )  # fmt: skip
    with matmul_precision(settings.precision, device):
        for _ in range(settings.warmup):
            step()
        _synchronize(settings.device)
        memory = PeakMemory(settings.device)
        seconds = []
        for _ in range(1 if memory_only else settings.repeats):
            _synchronize(settings.device)
            start = time.perf_counter()
            step()
            _synchronize(settings.device)
            seconds.append(time.perf_counter() - start)
        peak = memory.peak_bytes()
    median = sorted(seconds)[len(seconds) // 2]
    return NetworkCaseRecord(
        network=case.network, arch=case.arch, case=case.case, steps=case.steps,
        intervals=None if case.steps is None else intervals_for(case.steps), batch=settings.batch,
        repeats=settings.repeats, warmup=settings.warmup, step_seconds_median=median, step_seconds_min=min(seconds),
        images_per_second=settings.batch / median, peak_bytes=peak, parameters=parameters, device=settings.device,
        threads=torch.get_num_threads(), load_average=os.getloadavg(), peak_reset=memory.reset,
    )  # fmt: skip


def _run_child(
    case: NetworkCase, settings: NetworkBenchSettings, *, memory_only: bool
) -> NetworkCaseRecord:  # fmt: skip
    """One process of :func:`run_network_case`: it prints ``RESULT {record}``."""
    payload = json.dumps({"case": case.to_dict(), "settings": settings.to_dict(), "memory_only": memory_only})
    env = dict(os.environ)
    if memory_only:  # the resident set follows the live tensors (as the layer benchmark's children)
        env.setdefault("MALLOC_MMAP_THRESHOLD_", str(MMAP_THRESHOLD_BYTES))
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else src
    try:
        proc = subprocess.run([sys.executable, "-m", CHILD_MODULE, payload], capture_output=True, text=True,
                              timeout=settings.case_timeout, env=env, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        return NetworkCaseRecord.failed(case, f"timed out after {settings.case_timeout:g} s")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return NetworkCaseRecord.from_dict(json.loads(line[len("RESULT ") :]))
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    reason = f"exit status {proc.returncode}" + (" (killed: out of memory?)" if proc.returncode in (-9, 137) else "")
    return NetworkCaseRecord.failed(case, reason + (": " + " | ".join(tail) if tail else ""))


def run_network_case(case: NetworkCase, settings: NetworkBenchSettings) -> NetworkCaseRecord:
    """:func:`measure_network_case` in fresh Python processes (``settings.isolate``) or in this one.

    Isolated, a case runs twice: once for its time, with the C library's allocator as a training run has
    it, and once more, for one step, for its peak memory. The peak needs glibc's fixed mmap threshold (so
    that the resident set follows the live tensors), and under that threshold every large allocation is
    fresh, page-faulted memory, so timing with it would misstate both the time and ``dstd_over_bound``
    (VGG7 at batch 32, ``M = 4``: DSTD 5.43 against 6.02 s per step, the ratio 1.42 against 1.70;
    docs/benchmarks.md). A case whose process
    fails, runs out of memory or time gives a ``"failed"`` record with the reason.
    """
    if not settings.isolate:
        return measure_network_case(case, settings)
    timed = _run_child(case, settings, memory_only=False)
    if not timed.ok:
        return timed
    measured = _run_child(case, settings, memory_only=True)
    if not measured.ok:
        return measured
    return replace(timed, peak_bytes=measured.peak_bytes, peak_reset=measured.peak_reset)


def summarise_network(
    network: str, records: Sequence[NetworkCaseRecord], settings: NetworkBenchSettings
) -> NetworkSummary:
    """The ratios of one network from its records (fastest step over fastest step)."""

    def fastest(case: str, steps: int | None = None) -> float | None:
        found = [r for r in records if r.network == network and r.case == case and r.steps == steps and r.ok]
        return found[0].step_seconds_min if found else None

    def ratio(numerator: float | None, denominator: float | None) -> float | None:
        return None if numerator is None or not denominator else numerator / denominator

    ann = fastest("ann")
    over_bound = {m: ratio(fastest("dstd", m), fastest("bound", m)) for m in settings.steps}
    over_ann = {m: ratio(fastest("dstd", m), ann) for m in settings.steps}
    arch = next((r.arch for r in records if r.network == network), None) or resolve_network(network)
    m = settings.ratio_steps
    return NetworkSummary(network, arch, m, over_bound[m], over_ann[m], over_bound, over_ann)


def check_new_json_file(path: Path | str, option: str = "--json") -> Path:
    """A file this benchmark may write: not a folder, its folder made, and not there yet (figures are
    never overwritten); a :class:`ValueError` otherwise."""
    path = check_output_file(path, option)
    if path.exists():
        raise ValueError(f"{option} {path} exists; give a new file (a benchmark's figures are never overwritten)")
    return path


def run_network_benchmark(
    settings: NetworkBenchSettings,
    *,
    json_path: Path | str | None = None,
    progress: Callable[[str], None] | None = print,
) -> NetworkBenchResult:
    """Run every case of :func:`network_cases` and return the result; with ``json_path`` (which must not
    exist) it is written atomically, as strict JSON, after every case."""
    cases = network_cases(settings)  # unknown names fail here, before anything runs
    check_precision(settings.precision, torch.device(settings.device))
    if json_path is not None:
        json_path = check_new_json_file(json_path)
    say = progress or (lambda _line: None)
    started = time.perf_counter()
    machine = machine_description(settings.device)
    records: list[NetworkCaseRecord] = []

    def save() -> NetworkBenchResult:
        done = [name for name in settings.networks if any(r.network == name for r in records)]
        result = NetworkBenchResult(
            machine=machine, settings=settings, cases=tuple(records),
            summary=tuple(summarise_network(name, records, settings) for name in done),
            wall_seconds=time.perf_counter() - started,
        )  # fmt: skip
        if json_path is not None:
            write_json(json_path, result.to_dict(), allow_nan=False)
        return result

    width = max(12, *(len(name) for name in settings.networks))
    say(table_header(width))
    for case in cases:
        records.append(run_network_case(case, settings))
        say(format_record(records[-1], width))
        save()
    return save()


def table_header(width: int = 12) -> str:
    """The table's header; ``width``: the network column's."""
    return f"{'network':<{width}} {'case':<12} {'batch':>5} {'ms/step':>10} {'images/s':>10} {'peak MiB':>10}"


def format_record(record: NetworkCaseRecord, width: int = 12) -> str:
    """One table row: network, case, batch, median ms per step, images/s, peak memory in MiB."""
    case = NetworkCase(record.network, record.arch, record.case, record.steps)
    head = f"{record.network:<{width}} {case.label:<12}"
    if not record.ok:
        return f"{head} {record.status}: {record.reason}"
    assert record.step_seconds_median is not None and record.images_per_second is not None
    peak = "-" if record.peak_bytes is None else f"{record.peak_bytes / 2**20:.1f}"
    return (
        f"{head} {record.batch:>5} {record.step_seconds_median * 1e3:>10.2f} "
        f"{record.images_per_second:>10.1f} {peak:>10}"
    )


def format_summary(result: NetworkBenchResult) -> str:
    """One line per network: its ratios."""

    def show(value: float | None) -> str:
        return "-" if value is None or not math.isfinite(value) else f"{value:.2f}"

    return "\n".join(
        f"{entry.network}: dstd_over_bound {show(entry.dstd_over_bound)}, dstd_over_ann "
        f"{show(entry.dstd_over_ann)} (M = {entry.ratio_steps}, fastest steps)"
        for entry in result.summary
    )


def child_main(argv: Sequence[str]) -> int:
    """The case's process: measure ``argv[0]`` (JSON) and print ``RESULT {record}``."""
    payload = json.loads(argv[0])
    settings = replace(NetworkBenchSettings.from_dict(payload["settings"]), isolate=False)
    record = measure_network_case(
        NetworkCase(**payload["case"]), settings, memory_only=bool(payload.get("memory_only", False))
    )
    print("RESULT " + json.dumps(record.to_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
