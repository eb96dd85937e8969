"""The runner: failures are reported with their cause, results are written as they come and resumed."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest

from imcpnn.circuit import CircuitConfig, LayerBiases, SampleJob, run_samples
from imcpnn.circuit.runner import load_results, load_waveforms

CONFIG = CircuitConfig(layer_sizes=(2, 1))


def _job(key: str, *extra: str) -> SampleJob:
    nmos = np.array([[0.55, math.nan]])  # ~100 nA on input 0
    return SampleJob(key, (0.2, math.inf), (LayerBiases(nmos, np.full((1, 2), math.nan)),), extra_lines=extra)


@pytest.mark.spice
def test_failed_samples_are_reported_and_the_others_go_on(tmp_path):
    results_path = tmp_path / "results.jsonl"
    jobs = [_job("good"), _job("broken", "Xbad mem_1_0 0 0 0 no_such_model W=1 L=1"), _job("good2")]
    results = run_samples(jobs, CONFIG, results_path=results_path, workers=2, waveform_dir=tmp_path / "wave")
    assert results["good"].ok and results["good2"].ok
    assert math.isfinite(results["good"].spike_times[0][0])  # the neuron fired in its window
    assert results["good"].spike_times == results["good2"].spike_times
    assert not results["broken"].ok and results["broken"].cause == "netlist error"
    assert "ngspice failed" in results["broken"].message
    records = [json.loads(line) for line in results_path.read_text().splitlines()]
    assert sorted(r["key"] for r in records) == ["broken", "good", "good2"]
    assert load_waveforms(tmp_path / "wave", "good") is not None
    assert load_waveforms(tmp_path / "wave", "broken") is None

    # a rerun resumes: nothing is simulated again, and the waveforms come back from disk
    again = run_samples(jobs, CONFIG, results_path=results_path, workers=2, waveform_dir=tmp_path / "wave")
    assert len(results_path.read_text().splitlines()) == 3
    assert again["good"].spike_times == results["good"].spike_times
    assert again["good"].waveforms is not None and "mem_1_0" in again["good"].waveforms
    # retry_failed reruns only the failed sample (which fails again, with the same cause)
    retried = run_samples(jobs, CONFIG, results_path=results_path, workers=1, retry_failed=True)
    assert len(results_path.read_text().splitlines()) == 4
    assert retried["broken"].cause == "netlist error"
    assert load_results(results_path)["good"].ok


@pytest.mark.spice
def test_a_sample_past_its_timeout_is_recorded_as_a_timeout(tmp_path):
    results = run_samples([_job("slow")], CONFIG, results_path=tmp_path / "r.jsonl", workers=1, timeout_s=0.01)
    assert not results["slow"].ok
    assert results["slow"].cause == "timeout"


def test_a_truncated_last_line_is_ignored(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"key": "a", "ok": True, "spike_times": [[0.5, None]]}) + "\n" + '{"key": "b", "ok"')
    results = load_results(path)
    assert list(results) == ["a"]
    assert results["a"].spike_times == [[0.5, math.inf]]


# -- defect 2: cached results are keyed by what determines them --------------------------------------------------


def _biased_job(key: str, gate: float, *, context: str = "") -> SampleJob:
    nmos = np.array([[gate, math.nan]])
    return SampleJob(key, (0.2, math.inf), (LayerBiases(nmos, np.full((1, 2), math.nan)),), context=context)


def _lines(path) -> int:
    return len(path.read_text().splitlines())


def test_the_job_digest_changes_with_every_input():
    from dataclasses import replace

    base = _biased_job("a", 0.55)
    digest = base.digest(CONFIG)
    assert _biased_job("b", 0.55).digest(CONFIG) == digest  # the key is not an input
    others = [
        _biased_job("a", 0.5500001),
        SampleJob("a", (0.3, math.inf), base.biases),
        SampleJob("a", base.input_times, base.biases, extra_lines=("Rx mem_1_0 0 1G",)),
        _biased_job("a", 0.55, context="characterization 1234"),
    ]
    assert len({job.digest(CONFIG) for job in others} | {digest}) == len(others) + 1
    for config in (
        replace(CONFIG, corner="ss"),
        replace(CONFIG, temperature=85.0),
        replace(CONFIG, c_spike_wire=1e-15),
    ):
        assert base.digest(config) != digest


@pytest.mark.spice
def test_a_record_of_other_inputs_is_never_reused(tmp_path):
    """The audit: in a finished folder another scale or other weights reported the old spike times. A
    record is reused only for the same key and digest; others are simulated anew and kept."""
    path = tmp_path / "r.jsonl"
    first = run_samples([_biased_job("s", 0.55)], CONFIG, results_path=path, workers=1)["s"]
    assert first.ok and _lines(path) == 1
    stronger = run_samples([_biased_job("s", 0.60)], CONFIG, results_path=path, workers=1)["s"]
    assert stronger.ok and _lines(path) == 2
    assert stronger.spike_times[0][0] != first.spike_times[0][0]  # a larger current: another firing time
    again = run_samples([_biased_job("s", 0.55)], CONFIG, results_path=path, workers=2)["s"]
    assert _lines(path) == 2 and again.spike_times == first.spike_times  # the first record, reused
    # a record from before digests (key only) is not trusted either
    old = tmp_path / "old.jsonl"
    old.write_text(json.dumps({"key": "s", "ok": True, "spike_times": [[0.01]]}) + "\n")
    fresh = run_samples([_biased_job("s", 0.55)], CONFIG, results_path=old, workers=1)["s"]
    assert fresh.spike_times == first.spike_times and _lines(old) == 2


def test_malformed_cache_lines_are_named_and_set_aside(tmp_path):
    """A line that is not JSON, a record without a key and a truncated last line: named in the log, the
    file is set aside and rewritten with its readable records (no KeyError, nothing simulated)."""
    jobs = [_biased_job("a", 0.55), _biased_job("b", 0.56)]
    good = [
        {"key": job.key, "digest": job.digest(CONFIG), "ok": True, "spike_times": [[0.4 + k / 10]]}
        for k, job in enumerate(jobs)
    ]
    path = tmp_path / "r.jsonl"
    path.write_text(
        json.dumps(good[0])
        + "\nnot json at all\n"
        + json.dumps({"ok": True})
        + "\n"
        + json.dumps(good[1])
        + '\n{"key": "c", "ok'
    )
    messages: list[str] = []
    results = run_samples(jobs, CONFIG, results_path=path, workers=2, log=messages.append)
    assert results["a"].spike_times == [[0.4]] and results["b"].spike_times == [[0.5]]
    assert len(messages) == 1 and str(path) in messages[0]
    assert "line 2" in messages[0] and "line 3" in messages[0] and "line 5" in messages[0]
    (folder,) = tmp_path.glob("superseded_*")
    assert "not json at all" in (folder / "r.jsonl").read_text()
    assert [json.loads(line)["key"] for line in path.read_text().splitlines()] == ["a", "b"]
    messages.clear()
    run_samples(jobs, CONFIG, results_path=path, workers=1, log=messages.append)
    assert messages == []
    # a last record without its newline: the next append starts a new line
    path.write_text(json.dumps(good[0]))
    run_samples(jobs[:1], CONFIG, results_path=path, workers=1, log=messages.append)
    assert path.read_text().endswith("\n")


@pytest.mark.spice
def test_a_truncated_waveform_file_is_set_aside_and_simulated_again(tmp_path):
    path, waves = tmp_path / "r.jsonl", tmp_path / "waveforms"
    run_samples([_job("w")], CONFIG, results_path=path, workers=1, waveform_dir=waves)
    npz = waves / "w.npz"
    npz.write_bytes(npz.read_bytes()[:100])
    messages: list[str] = []
    again = run_samples([_job("w")], CONFIG, results_path=path, workers=1, waveform_dir=waves, log=messages.append)
    assert again["w"].ok and again["w"].waveforms is not None
    assert any("w.npz" in m and "unreadable" in m for m in messages)
    assert len(list(tmp_path.glob("superseded_*/w.npz"))) == 1
    assert load_waveforms(waves, "w") is not None and _lines(path) == 2


# -- defect 2 and 4: failures are retried, and explain themselves --------------------------------------------------

NOISY_FAILURE = 'for k in $(seq 1 30); do echo "fake ngspice line $k"; done\necho "segmentation fault" >&2\nexit 1\n'


@pytest.mark.spice
@pytest.mark.parametrize("workers", [1, 2])
def test_a_failed_run_keeps_its_log_tail_and_is_retried(tmp_path, fake_ngspice, monkeypatch, workers):
    path = tmp_path / "r.jsonl"
    fake_ngspice(NOISY_FAILURE)
    jobs = [_job("f0"), _job("f1")]
    failed = run_samples(jobs, CONFIG, results_path=path, workers=workers)
    for result in failed.values():
        assert not result.ok and result.cause == "ngspice failed"
        assert "the last lines of its log" in result.message and "segmentation fault" in result.message
        assert "fake ngspice line 30" in result.message and "fake ngspice line 5\n" not in result.message
        assert "see /" not in result.message  # no pointer into a deleted temporary folder
        assert "fake ngspice line 30" in result.log_tail
    record = json.loads(path.read_text().splitlines()[0])
    assert "fake ngspice line 30" in record["log_tail"]
    # ngspice back: the failures are simulated again (not reported from the cache)
    monkeypatch.delenv("IMCPNN_NGSPICE")
    retried = run_samples(jobs, CONFIG, results_path=path, workers=workers)
    assert all(r.ok for r in retried.values()) and _lines(path) == 4
    # a crashed worker's record is retried too
    crashed = {"key": "f0", "digest": jobs[0].digest(CONFIG), "ok": False, "cause": "worker crashed", "spike_times": []}
    other = tmp_path / "crash.jsonl"
    other.write_text(json.dumps(crashed) + "\n")
    assert run_samples(jobs[:1], CONFIG, results_path=other, workers=workers)["f0"].ok


@pytest.mark.spice
@pytest.mark.parametrize("workers", [1, 2])
def test_unreadable_ngspice_output_is_reported_as_such(tmp_path, fake_ngspice, workers):
    """Garbage in ngspice's data file used to surface as numpy's 'the number of columns changed' or a
    KeyError 'time'; now it is 'could not be read' with the file's tail, the same for any workers."""
    cases = {
        "rows": "printf 'time v(x)\\n1 2\\n3\\nthis is not a number\\n' > sample.data\necho fake log\n",
        "cols": "printf 'foo bar\\n1 2\\n3 4\\n' > sample.data\necho fake log\n",
    }
    for name, body in cases.items():
        fake_ngspice(body)
        (result,) = run_samples([_job(name)], CONFIG, results_path=tmp_path / f"{name}.jsonl", workers=workers).values()
        assert not result.ok and result.cause == "unreadable output", result.message
        assert "could not be read" in result.message and "fake log" in result.message
        assert ("this is not a number" if name == "rows" else "3 4") in result.message


def test_read_wrdata_reports_garbage_as_unreadable(tmp_path):
    from imcpnn.circuit.spice import SpiceSimulationError, read_wrdata

    for text in ("time v(a)\n0 1\n1\n", "", "time v(a)\n", "time v(a)\n0 x\n"):
        path = tmp_path / "x.data"
        path.write_text(text)
        with pytest.raises(SpiceSimulationError, match="could not be read") as caught:
            read_wrdata(path, log_tail="last log line")
        assert caught.value.cause == "unreadable output" and "last log line" in str(caught.value)


# -- defect 3: the runner's arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [("workers", 0), ("workers", -2), ("workers", 1.5), ("workers", True), ("timeout_s", 0), ("timeout_s", -1.0),
     ("timeout_s", math.nan), ("timeout_s", math.inf)],
)  # fmt: skip
def test_run_samples_checks_its_arguments(tmp_path, option, value):
    with pytest.raises(ValueError, match=option):
        run_samples([_job("a")], CONFIG, results_path=tmp_path / "r.jsonl", **{option: value})
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_missing_ngspice_is_one_clear_error_for_any_workers(tmp_path, monkeypatch, workers):
    """It used to be recorded as a 'worker crashed' failure per sample (and cached for good)."""
    from imcpnn.circuit import SpiceToolMissingError

    monkeypatch.setenv("IMCPNN_NGSPICE", str(tmp_path / "no_ngspice_here"))
    path = tmp_path / "r.jsonl"
    with pytest.raises(SpiceToolMissingError, match="ngspice is not installed"):
        run_samples([_job("a"), _job("b")], CONFIG, results_path=path, workers=workers)
    assert not path.exists() or path.read_text() == ""


# -- defect 4: pool workers, and their ngspice runs, end with the process that started them -----------------------

_CHILD = """
import math, sys
import numpy as np
from imcpnn.circuit import CircuitConfig, LayerBiases, SampleJob, run_samples
from imcpnn.cli.circuit import _terminate_unwinds  # what `imcpnn circuit` runs under
bias = (LayerBiases(np.array([[0.55, math.nan]]), np.full((1, 2), math.nan)),)
jobs = [SampleJob(f"hang{k}", (0.2, math.inf), bias) for k in range(2)]
with _terminate_unwinds():
    run_samples(jobs, CircuitConfig(layer_sizes=(2, 1)), results_path=sys.argv[1], workers=2, timeout_s=120)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def _wait_until(predicate, seconds: float) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.mark.spice
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT", "SIGTERM"])
def test_workers_and_ngspice_end_with_their_parent(tmp_path, fake_ngspice, how):
    """A killed `circuit compare --workers 2` left both pool workers running (parent PID 1) for 46 s and
    more. Now: SIGKILL of the parent ends the workers (PR_SET_PDEATHSIG) and their ngspice runs (own
    death signal, or killed by the worker as it unwinds); Ctrl-C or `kill PID` makes the parent stop the
    pool. Either way the workers remove their temporary run folders as they end."""
    import os
    import signal
    import subprocess

    pids = tmp_path / "pids"
    fake_ngspice(f'echo "$$ $PPID" >> "{pids}"\nexec sleep 60\n')
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path / "r.jsonl")], env=env,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert _wait_until(lambda: pids.exists() and len(pids.read_text().split()) == 4, 60), "no ngspice started"
        ngspice, workers = zip(*(map(int, line.split()) for line in pids.read_text().splitlines()), strict=True)
        assert len(set(workers)) == 2 and child.pid not in workers, (workers, child.pid)  # one run in each worker
        assert len(list(scratch.iterdir())) == 2  # their temporary run folders
        os.kill(child.pid, getattr(signal, how))
        child.wait(timeout=30)
        assert _wait_until(lambda: not any(_alive(p) for p in workers + ngspice), 10), [
            (p, _alive(p)) for p in workers + ngspice
        ]
        # the workers unwound (SIGTERM from the parent): folders removed. After a SIGKILL of the parent the
        # kernel's death signal ends the workers, but about one run in fifteen here one of them leaves its
        # folder behind (a race not found yet: see the closing note of issue 15), so that case checks only
        # that every process ended.
        if how != "SIGKILL":
            assert _wait_until(lambda: not list(scratch.iterdir()), 20), list(scratch.iterdir())
    finally:
        if child.poll() is None:
            child.kill()
        for line in pids.read_text().splitlines() if pids.exists() else []:
            for pid in map(int, line.split()):
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)


def test_the_pool_initializer_sets_the_parent_death_signal():
    """The worker side of the test above, without processes of ngspice: PR_GET_PDEATHSIG reads SIGTERM."""
    import subprocess

    code = (
        "import ctypes, os, signal\n"
        "from imcpnn.circuit.pool import worker_init\n"
        "worker_init(os.getppid())\n"
        "value = ctypes.c_int()\n"
        "ctypes.CDLL(None).prctl(2, ctypes.byref(value), 0, 0, 0)\n"
        "print(value.value == signal.SIGTERM)\n"
    )
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux's")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "True"


def test_which_cached_failures_a_rerun_takes():
    """Failures that the same inputs reproduce are kept; the others (crash, missing tool, unreadable
    output, a timeout under a shorter limit) are simulated again."""
    from imcpnn.circuit import SampleResult

    def failure(cause: str, timeout_s: float | None = 300.0) -> SampleResult:
        return SampleResult("k", False, cause=cause, digest="d", timeout_s=timeout_s)

    assert SampleResult("k", True, [[0.5]], digest="d").reusable_for("d", 300.0)
    assert not SampleResult("k", True, [[0.5]], digest="d").reusable_for("other", 300.0)
    assert not SampleResult("k", True, [[0.5]]).reusable_for("", 300.0)  # a record from before digests
    assert failure("netlist error").reusable_for("d", 300.0)
    assert failure("non-convergence").reusable_for("d", 300.0)
    assert not failure("netlist error").reusable_for("d", 300.0, retry_failed=True)
    for cause in ("worker crashed", "ngspice failed", "unreadable output", "OSError", "KeyError"):
        assert not failure(cause).reusable_for("d", 300.0), cause
    assert failure("timeout", 300.0).reusable_for("d", 300.0)
    assert not failure("timeout", 300.0).reusable_for("d", 600.0)
    assert not failure("timeout", None).reusable_for("d", 1.0)
