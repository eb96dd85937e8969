"""The network benchmark (``imcpnn bench --network``): the bound multiplies what DSTD multiplies, the ANN is
the ideal limit, the JSON holds every case and the ratios, bad input is refused. Timings are not asserted."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from imcpnn.benchmarks.network import (
    NetworkBenchSettings,
    NetworkCase,
    run_network_benchmark,
    run_network_case,
)
from imcpnn.benchmarks.network_workload import BoundChain, IdealAnn, intervals_for, resolve_network
from imcpnn.layers import build_network

TINY = "2x6x6:C3-P-C4-5-3"  # conv, pool, conv, flatten, dense, dense


class _Products(TorchFunctionMode):
    """Records the shapes of every ``torch.matmul`` and ``conv2d`` call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in (torch.matmul, F.conv2d):
            self.calls.append((func.__name__, tuple(args[0].shape), tuple(args[1].shape)))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("steps", [1, 4])
def test_bound_multiplies_the_shapes_dstd_multiplies(steps):
    network = build_network(TINY, e_rev_pos=2.0, steps=steps, spike_noise=0.01).train()
    times = torch.rand(3, *network.input_shape)
    with _Products() as dstd:
        network(times)
    chain = BoundChain(network)
    soft_spikes = torch.rand(3, intervals_for(steps), *network.input_shape)
    with _Products() as bound:
        out = chain(soft_spikes)
    assert len(dstd.calls) == 4  # one product per neuron layer
    assert [name for name, _, _ in dstd.calls] == ["conv2d", "conv2d", "matmul", "matmul"]
    assert bound.calls == dstd.calls
    assert dstd.calls[0][1] == (3 * (steps + 1), 2, 6, 6)  # the random offset's extra interval, folded
    out.sum().backward()
    for weight, layer in zip(chain.weights, network.spiking_layers(), strict=True):
        assert weight.shape[0] == 2 * layer.weight.shape[0]  # [w; βw]
        assert weight.grad is not None and weight.grad.abs().sum() > 0


def test_ideal_ann_is_the_hard_sigmoid_network():
    network = build_network("3-2-2", e_rev_pos=2.0)
    w1 = torch.tensor([[1.0, -0.5, 0.25], [2.0, 2.0, 2.0]])
    w2 = torch.tensor([[1.0, -1.0], [-0.5, 0.25]])
    with torch.no_grad():
        for layer, weight in zip(network.spiking_layers(), (w1, w2), strict=True):
            layer.weight.copy_(weight)
    times = torch.tensor([[0.2, 0.6, 1.0], [1.0, 1.0, 0.0]])
    expected = []
    for t in times.tolist():  # by hand: x = 1 - t, each layer clip(W x, 0, 1), output 1 - x
        x = [1.0 - v for v in t]
        for weight in (w1.tolist(), w2.tolist()):
            x = [min(max(sum(w * v for w, v in zip(row, x, strict=True)), 0.0), 1.0) for row in weight]
        expected.append([1.0 - v for v in x])
    # hidden = clip([0.8 - 0.2, 1.6], 0, 1) = [0.6, 1]: both sides of the clip are reached
    assert torch.allclose(IdealAnn(network)(times), torch.tensor(expected))


def test_ideal_ann_is_the_spiking_network_without_reversal_potentials():
    """With |E±| = ∞ and no noise DSTD integrates Σ w (1 - t) exactly, whatever the offset: the convolution,
    min-pooling and dense path of the spiking network then equals the ANN with the same weights."""
    network = build_network(TINY, e_rev_pos=math.inf, steps=3, spike_noise=0.0).train()
    with torch.no_grad():
        for layer in network.spiking_layers():
            layer.weight.mul_(3.0)  # drives past both ends of the clip
    times = torch.rand(4, *network.input_shape, dtype=torch.float64)
    network.double()
    ann = IdealAnn(network).double()
    expected = network(times)
    assert 0 < float((expected == 0).float().mean() + (expected == 1).float().mean())
    assert torch.allclose(ann(times), expected, atol=1e-10)


def _strict(text: str):
    def refuse(constant: str):
        raise AssertionError(f"non-strict JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_run_writes_every_case_and_the_ratios(tmp_path):
    settings = NetworkBenchSettings(
        networks=(TINY,), batch=2, steps=(2, 4), repeats=2, warmup=1, threads=1, isolate=False
    )
    path = tmp_path / "network.json"
    result = run_network_benchmark(settings, json_path=path, progress=None)
    saved = _strict(path.read_text())
    assert saved["cases"] == [record.to_dict() for record in result.cases]
    cases = {(c["case"], c["steps"]): c for c in saved["cases"]}
    assert set(cases) == {("ann", None), ("dstd", 2), ("bound", 2), ("dstd", 4), ("bound", 4)}
    for case in saved["cases"]:
        assert case["status"] == "ok", case
        assert 0 < case["step_seconds_min"] <= case["step_seconds_median"]
        assert case["images_per_second"] == pytest.approx(2 / case["step_seconds_median"])
        assert case["peak_bytes"] >= 0 and case["batch"] == 2 and case["repeats"] == 2
        assert case["intervals"] == (None if case["steps"] is None else case["steps"] + 1)
    summary = saved["summary"][TINY]
    assert summary["ratio_steps"] == 4
    ann = cases[("ann", None)]["step_seconds_min"]
    for m in (2, 4):
        dstd, bound = cases[("dstd", m)]["step_seconds_min"], cases[("bound", m)]["step_seconds_min"]
        assert summary["dstd_over_bound_by_steps"][str(m)] == pytest.approx(dstd / bound)
        assert summary["dstd_over_ann_by_steps"][str(m)] == pytest.approx(dstd / ann)
    assert summary["dstd_over_bound"] == summary["dstd_over_bound_by_steps"]["4"]
    assert summary["dstd_over_ann"] == summary["dstd_over_ann_by_steps"]["4"]
    assert saved["settings"]["steps"] == [2, 4] and saved["machine"]["device"] == "cpu"


def test_a_case_runs_in_its_own_process_and_a_failure_is_recorded():
    settings = NetworkBenchSettings(networks=(TINY,), batch=2, steps=(2,), repeats=1, warmup=1, threads=1)
    arch = resolve_network(TINY)
    record = run_network_case(NetworkCase(TINY, arch, "bound", 2), settings)
    assert record.ok, record.reason
    assert record.peak_reset and record.peak_bytes is not None and record.intervals == 3
    failed = run_network_case(NetworkCase(TINY, arch, "nope", 2), settings)
    assert failed.status == "failed" and "unknown case 'nope'" in failed.reason


def test_time_and_memory_come_from_two_processes_and_only_the_memory_one_fixes_the_mmap_threshold(monkeypatch):
    """The timed process keeps the allocator a training run has; the peak comes from a second process that
    runs one step with glibc's fixed mmap threshold."""
    from imcpnn.benchmarks import network

    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    seen = []
    real_run = network.subprocess.run

    def spy(command, **kwargs):
        payload = json.loads(command[-1])
        seen.append((payload["memory_only"], kwargs["env"].get("MALLOC_MMAP_THRESHOLD_")))
        return real_run(command, **kwargs)

    monkeypatch.setattr(network.subprocess, "run", spy)
    settings = NetworkBenchSettings(networks=(TINY,), batch=2, steps=(2,), repeats=2, warmup=1, threads=1)
    record = run_network_case(NetworkCase(TINY, resolve_network(TINY), "dstd", 2), settings)
    assert record.ok, record.reason
    assert seen == [(False, None), (True, str(network.MMAP_THRESHOLD_BYTES))]
    assert record.repeats == 2 and record.peak_bytes is not None


def test_precision_bf16_runs_the_steps_under_autocast_and_tf32_is_refused_on_cpu():
    settings = NetworkBenchSettings(
        networks=(TINY,), batch=2, steps=(2,), repeats=1, warmup=0, threads=1, isolate=False, precision="bf16"
    )
    result = run_network_benchmark(settings, progress=None)
    assert all(record.ok for record in result.cases)
    assert result.to_dict()["settings"]["precision"] == "bf16"
    with pytest.raises(ValueError, match="tf32"):
        run_network_benchmark(replace(settings, precision="tf32"), progress=None)
    with pytest.raises(ValueError, match="precision must be one of"):
        NetworkBenchSettings(networks=(TINY,), precision="fp8")


def test_presets_resolve_to_the_paper_networks():
    assert resolve_network("vgg7") == "3x32x32:C64-C64-P-C128-C128-P-C256-C256-P-512-10"
    assert resolve_network("fmnist-mlp") == "784-400-400-10"
    assert resolve_network("cpu-cnn") == "1x28x28:C8-C8-P-C16-C16-P-64-10"
    assert resolve_network("64-100-10") == "64-100-10"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--network", "nope"], "unknown network 'nope'"),
        (["--network", "1x8x8:C4"], "ends in a convolution"),
        (["--network", "fmnist-mlp", "--steps", "2", "0"], "--steps: every DSTD M must be an integer >= 1"),
        (["--network", "fmnist-mlp", "--batch", "0"], "--batch must be an integer >= 1"),
        (["--network", "fmnist-mlp", "--repeats", "0"], "--repeats must be an integer >= 1"),
        (["--network", "fmnist-mlp", "--quick"], "--quick: options of the layer benchmark"),
        (["--steps", "4"], "--steps: options of the network benchmark; give --network too"),
    ],
)
def test_bench_network_rejects_bad_input(argv, message, capsys):
    from imcpnn.cli.main import main

    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("mode", [["--network", "fmnist-mlp"], ["--peer", "norse"]])
def test_bench_refuses_an_existing_json_file(mode, tmp_path, capsys):
    from imcpnn.cli.main import main

    path = tmp_path / "done.json"
    path.write_text('{"kept": true}\n')
    assert main(["bench", *mode, "--json", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"--json {path} exists" in err and "Traceback" not in err
    assert path.read_text() == '{"kept": true}\n'
