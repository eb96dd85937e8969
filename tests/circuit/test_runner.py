"""The runner: failures are reported with their cause, results are written as they come and resumed."""

from __future__ import annotations

import json
import math

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
