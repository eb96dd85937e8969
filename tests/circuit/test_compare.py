"""The comparison flow: the trained Iris networks and their samples, and compare() on a few samples."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from imcpnn.circuit import (
    IDEAL_PARAMS,
    CircuitConfig,
    compare,
    model_spike_times,
    prepare_run_folder,
    train_iris_models,
)
from imcpnn.circuit.flows import balanced_order
from imcpnn.circuit.run_folder import circuit_stamp
from imcpnn.data import encode_inputs, load_dataset
from imcpnn.params import NeuronParams


def test_train_iris_models_returns_the_trainers_weights_and_splits(tmp_path):
    """Short training (2 epochs): the networks' weights, the trainer's own splits and encoding, caching."""
    models = train_iris_models(tmp_path, 2.8, -1.53, 0.15, seed=0, n_calibration=4, epochs=2, log=lambda _: None)
    assert [np.shape(w) for w in models.ann_weights] == [(5, 5), (5, 5)]
    assert [np.shape(w) for w in models.pnn_weights] == [(5, 5), (5, 5)]
    assert not np.allclose(models.ann_weights[0], models.pnn_weights[0])  # two different trainings
    splits = load_dataset("iris", seed=0, val_fraction=0.0)
    train_x, train_y = splits.train[:]
    test_x, test_y = splits.test[:]
    picked = balanced_order(train_y.numpy())[:4]
    assert sorted(np.bincount(train_y.numpy()[picked]).tolist()) == [1, 1, 2]  # every class, balanced
    assert models.calibration_times == pytest.approx(encode_inputs("iris", train_x[picked]).double().numpy())
    assert models.test_times == pytest.approx(encode_inputs("iris", test_x).double().numpy())
    assert models.test_times.shape == (50, 5)
    assert np.all(models.test_times[:, 4] == 0.0)  # the bias spike, last, at t = 0
    assert np.array_equal(models.test_labels, test_y.numpy())
    folders = sorted(p.name for p in (tmp_path / "models").iterdir())
    assert len(folders) == 2 and folders[0].startswith("ann_E+100") and folders[1].startswith("pnn_E+2.8000")
    # the checkpoints are the weights returned
    from imcpnn.training.trainer import load_trained_model

    network, config = load_trained_model(tmp_path / "models" / folders[1] / "best.pt")
    params = config.neuron.params
    assert (params.e_rev_pos, params.e_rev_neg, params.beta_dis) == (2.8, -1.53, 0.15)
    first = next(network.spiking_layers()).weight.detach().numpy()
    assert np.array_equal(first, models.pnn_weights[0])
    # a second call loads the cached runs instead of training again
    stamp = (tmp_path / "models" / folders[0] / "best.pt").stat().st_mtime_ns
    again = train_iris_models(tmp_path, 2.8, -1.53, 0.15, seed=0, n_calibration=4, epochs=2, log=lambda _: None)
    assert (tmp_path / "models" / folders[0] / "best.pt").stat().st_mtime_ns == stamp
    assert np.array_equal(again.ann_weights[1], models.ann_weights[1])


def test_balanced_order_alternates_the_classes():
    assert balanced_order(np.array([2, 2, 0, 1, 0, 2])).tolist() == [2, 3, 0, 4, 1, 5]


def _network_weights(n_hidden: int = 5, n_out: int = 5) -> list[np.ndarray]:
    """A 5-N-M network whose hidden neurons fire at various times (mixed signs, |w| up to 0.9)."""
    rng = np.random.default_rng(3)
    hidden = rng.uniform(-0.5, 0.9, size=(n_hidden, 5))
    output = rng.uniform(-0.6, 0.9, size=(n_out, n_hidden))
    return [hidden, output]


@pytest.mark.spice
def test_compare_on_a_few_samples_ranks_the_physical_model_first(characterized, tmp_path):
    """Same weights in both flows: the model with the characterised E± and β_dis predicts SPICE far
    better than the ideal one (|E±| = 100), whatever current scale the ideal one gets."""
    _, char = characterized
    config = CircuitConfig(layer_sizes=(5, 3, 3))  # a smaller network than 5-5-5: faster simulations
    weights = _network_weights(3, 3)
    rng = np.random.default_rng(0)
    times = np.concatenate([rng.uniform(0.0, 0.8, size=(3, 4)), np.zeros((3, 1))], axis=1)
    scale = round(char.c_eff_f / config.c_m, 2)
    report = compare(
        tmp_path,
        ann_weights=weights,
        pnn_weights=weights,
        calibration_times=times[:1],
        test_times=times[1:],
        characterization=char,
        config=config,
        workers=2,
        fixed_scales={"ann_to_imc": (scale, scale)},
        test_labels=np.array([0, 1]),
        log=lambda _: None,
    )
    data = json.loads((tmp_path / "report.json").read_text())
    for key in (
        "lambda_n",
        "lambda_p",
        "lambda_dis",
        "e_rev_pos",
        "e_rev_neg",
        "beta_dis",
        "rmse_ns",
        "scales",
        "n_samples",
    ):
        assert key in data
    assert data["n_samples"] == 2
    assert data["e_rev_pos"] == pytest.approx(char.e_rev_pos)
    assert set(data["rmse_ns"]) == {"ann_to_imc", "pnn_to_imc"}
    assert data["scales"]["ann_to_imc"] == {"a_pos": scale, "a_neg": scale}
    assert 0.5 < data["scales"]["pnn_to_imc"]["a"] < 1.5
    assert data["failed"] == {"ann_to_imc": [], "pnn_to_imc": []}
    assert (tmp_path / "spike_time_histogram.png").stat().st_size > 5_000
    assert (tmp_path / "worst_sample_waveforms.png").stat().st_size > 5_000
    pnn, ann = report.rmse_ns["pnn_to_imc"], report.rmse_ns["ann_to_imc"]
    # PNN-to-IMC: a few ns (2.9 ns measured; ANN-to-IMC at C_eff / C_m: 32 ns), weights up to 0.9
    assert math.isfinite(pnn) and pnn < 6.0
    assert ann > 4 * pnn
    # the ideal model is what the ANN flow compares against; it predicts other times than the PNN's
    ideal = model_spike_times(weights, times[1:], IDEAL_PARAMS)[-1]
    physical_params = NeuronParams(e_rev_pos=char.e_rev_pos, e_rev_neg=char.e_rev_neg, beta_dis=char.beta_dis)
    physical = model_spike_times(weights, times[1:], physical_params)[-1]
    assert np.abs(np.clip(ideal, 0, 1) - np.clip(physical, 0, 1)).max() > 0.02
    assert set(data["accuracy"]) == {"ann_to_imc", "pnn_to_imc"}
    # a rerun resumes from the recorded simulations: nothing new is simulated
    lines = {p.name: len(p.read_text().splitlines()) for p in tmp_path.glob("*.jsonl")}
    compare(
        tmp_path,
        ann_weights=weights,
        pnn_weights=weights,
        calibration_times=times[:1],
        test_times=times[1:],
        characterization=char,
        config=config,
        workers=2,
        fixed_scales={"ann_to_imc": (scale, scale)},
        log=lambda _: None,
    )
    assert {p.name: len(p.read_text().splitlines()) for p in tmp_path.glob("*.jsonl")} == lines


def test_model_membrane_traces_cross_the_threshold_at_the_model_spike_times():
    """The plotted model traces (volts, circuit polarity) agree with the model's spike times."""
    from imcpnn.circuit import model_membrane_traces
    from imcpnn.circuit.netlist import firing_start
    from imcpnn.circuit.runner import crossing_time

    config = CircuitConfig()
    weights = _network_weights()
    times = np.array([[0.1, 0.5, 0.9, 0.3, 0.0]])
    model = NeuronParams(e_rev_pos=2.8, e_rev_neg=-1.53, beta_dis=0.15)
    spike_times = model_spike_times(weights, times, model)
    time_s = np.linspace(0.0, 4e-6, 40001)
    traces = model_membrane_traces(weights, times[0], model, config, time_s)
    fired = 0
    for layer, layer_times in enumerate(spike_times, start=1):
        start = firing_start(config, layer)
        for i, t in enumerate(layer_times[0]):
            trace = traces[f"mem_{layer}_{i}"]
            assert trace[time_s < (layer - 0.01) * config.t_circ] == pytest.approx(config.v_rest)
            crossing = crossing_time(time_s, trace, config.v_switch, start, start + config.t_circ, rising=False)
            if t < 1.0:
                fired += 1
                assert (crossing - start) / config.t_circ == pytest.approx(t, abs=2e-4)
            else:
                assert not math.isfinite(crossing) or crossing >= start + 0.999 * config.t_circ
    assert fired >= 3


def test_a_folder_simulated_with_another_circuit_is_moved_aside_not_reused(tmp_path):
    """Cached simulations are reused only for the same circuit (config and netlist revision)."""
    config = CircuitConfig()
    out = tmp_path / "cmp"
    out.mkdir()
    # a folder from before the stamp: simulations and a characterisation of an older circuit
    (out / "test_pnn_to_imc.jsonl").write_text('{"key": "old"}\n')
    (out / "characterization.json").write_text(json.dumps({"config": {"layer_sizes": [5, 5, 5]}}))
    (out / "models").mkdir()  # trained networks do not depend on the circuit: kept
    messages: list[str] = []
    prepare_run_folder(out, config, messages.append)
    superseded = list(out.glob("superseded_*"))
    assert len(superseded) == 1 and len(messages) == 1
    assert sorted(p.name for p in superseded[0].iterdir()) == ["characterization.json", "test_pnn_to_imc.jsonl"]
    assert (out / "models").is_dir() and not (out / "test_pnn_to_imc.jsonl").exists()
    assert json.loads((out / "circuit.json").read_text()) == circuit_stamp(config)
    # the same circuit again: the new simulations are kept for reuse
    (out / "test_pnn_to_imc.jsonl").write_text('{"key": "new"}\n')
    prepare_run_folder(out, config, messages.append)
    assert (out / "test_pnn_to_imc.jsonl").exists() and len(messages) == 1
    # another circuit (a config change): moved aside again, nothing deleted
    other = replace(config, c_spike_wire=7e-15)
    prepare_run_folder(out, other, messages.append)
    moved = sorted(p.read_text() for p in out.glob("superseded_*/test_pnn_to_imc.jsonl"))
    assert moved == ['{"key": "new"}\n', '{"key": "old"}\n']
    assert json.loads((out / "circuit.json").read_text()) == circuit_stamp(other)


def test_report_round_trips_through_its_json():
    """``Report.to_dict()`` is ``report.json``'s content and ``Report.from_dict`` reads it back."""
    from imcpnn.circuit import IDEAL_PARAMS, Accuracy, FailedSample, FlowResult, Report, ScaleSearchOptions
    from imcpnn.circuit.report import CharacterizationSummary
    from imcpnn.circuit.scale_search import SearchEvaluation

    ann = FlowResult(
        name="ann_to_imc", params=IDEAL_PARAMS, scales=(0.9, 0.8), two_dimensional=True, rmse_ns=20.0,
        max_abs_diff_ns=51.0, rmse_fired_ns=22.0, n_output_spikes=7, rmse_layers_ns=(9.0, 20.0),
        accuracy=Accuracy(model=1.0, circuit=0.5),
        search_history=(SearchEvaluation(0.9, 0.8, 20.5, failed=0), SearchEvaluation(3.0, 0.8, None, error="range")),
    )  # fmt: skip
    pnn = FlowResult(
        name="pnn_to_imc", params=NeuronParams(e_rev_pos=2.8, e_rev_neg=-1.53, beta_dis=0.15), scales=(0.82, 0.82),
        two_dimensional=False, rmse_ns=2.0, failed=(FailedSample(1, "timeout", "ngspice ran past 600 s"),),
    )  # fmt: skip
    report = Report(
        characterization=CharacterizationSummary(0.41, 0.75, 0.177, 2.8, -1.53, 0.154), flows=(ann, pnn),
        n_samples=2, n_calibration=1, search=ScaleSearchOptions(fine=False, newton_steps=2), search_start=0.8234,
        config=CircuitConfig(layer_sizes=(5, 3, 3)), wall_time_s=12.5, with_accuracy=True,
        extra={"training_test_accuracy": {"ann": 0.9, "pnn": 0.96}},
    )  # fmt: skip
    data = json.loads(json.dumps(report.to_dict()))
    assert data["rmse_ratio_ann_over_pnn"] == pytest.approx(10.0) and report.ratio == pytest.approx(10.0)
    assert data["scales"] == {"ann_to_imc": {"a_pos": 0.9, "a_neg": 0.8}, "pnn_to_imc": {"a": 0.82}}
    assert set(data["rmse_fired_ns"]) == {"ann_to_imc"} and set(data["accuracy"]) == {"ann_to_imc"}
    assert data["scale_search"]["start"] == 0.82
    again = Report.from_dict(data)
    assert json.loads(json.dumps(again.to_dict())) == data
    assert again.flow("pnn_to_imc").failed == pnn.failed and again.flow("ann_to_imc").params == IDEAL_PARAMS
    assert again.config == report.config


# -- the audit's defects ------------------------------------------------------------------------------------------


def _synthetic():
    from test_mapping_and_extraction import _synthetic_characterization

    return _synthetic_characterization()


def _small_inputs():
    config = CircuitConfig(layer_sizes=(5, 3, 3))
    rng = np.random.default_rng(0)
    times = np.concatenate([rng.uniform(0.0, 0.8, size=(3, 4)), np.zeros((3, 1))], axis=1)
    return config, _network_weights(3, 3), times


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [("timeout_s", 0, "timeout_s"), ("timeout_s", -1.0, "timeout_s"), ("timeout_s", math.nan, "timeout_s"),
     ("workers", 0, "workers"), ("workers", -1, "workers"), ("test_times", np.full((1, 5), np.nan), "test_times")],
)  # fmt: skip
def test_compare_checks_its_arguments_before_any_work(tmp_path, option, value, words):
    config, weights, times = _small_inputs()
    kwargs = dict(
        ann_weights=weights, pnn_weights=weights, calibration_times=times[:1], test_times=times[1:],
        characterization=_synthetic(), config=config, log=lambda _: None,
    )  # fmt: skip
    kwargs[option] = value
    with pytest.raises(ValueError, match=words):
        compare(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    kwargs[option] = {"timeout_s": 300.0, "workers": None, "test_times": times[1:]}[option]
    with pytest.raises(ValueError, match="is a file"):
        compare(a_file, **kwargs)


@pytest.mark.spice
def test_compare_never_reports_stale_results(characterized, tmp_path):
    """The audit: in a finished folder another --scale-pnn reported the old 1.18 ns in 0 s (fresh: 117 ns),
    and other --weights the old RMSE. Now every cached simulation is keyed by its inputs."""
    _, char = characterized
    config, weights, times = _small_inputs()
    scale = round(char.c_eff_f / config.c_m, 2)

    def run(folder, pnn_scale, w):
        return compare(
            folder, ann_weights=w, pnn_weights=w, calibration_times=times[:1], test_times=times[1:2],
            characterization=char, config=config, workers=1, log=lambda _: None,
            fixed_scales={"ann_to_imc": (scale, scale), "pnn_to_imc": (pnn_scale, pnn_scale)},
        ).rmse_ns["pnn_to_imc"]  # fmt: skip

    folder = tmp_path / "finished"
    matched = run(folder, scale, weights)
    assert run(folder, scale, weights) == matched  # reused
    larger = run(folder, 1.2, weights)
    assert larger == pytest.approx(run(tmp_path / "fresh", 1.2, weights)) and larger > 5 * matched
    lines = len((folder / "test_pnn_to_imc.jsonl").read_text().splitlines())
    assert run(folder, scale, [0.5 * w for w in weights]) != pytest.approx(matched)  # other weights: simulated
    assert len((folder / "test_pnn_to_imc.jsonl").read_text().splitlines()) == lines + 1


@pytest.mark.spice
def test_compare_raises_when_every_sample_of_a_flow_failed(tmp_path, fake_ngspice):
    """With ngspice broken every sample failed and compare reported `RMSE inf ns over 0 samples` (exit 0);
    now it raises a RuntimeError (the CLI's exit 2), after writing report.json with the failures."""
    fake_ngspice('echo "fake ngspice: cannot run"\nexit 1\n')
    config, weights, times = _small_inputs()
    common = dict(
        ann_weights=weights, pnn_weights=weights, calibration_times=times[:1], test_times=times[1:],
        characterization=_synthetic(), config=config, workers=2, log=lambda _: None,
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="all 2 test simulations failed") as caught:
        compare(tmp_path / "fixed", fixed_scales={"ann_to_imc": (1.0, 1.0), "pnn_to_imc": (1.0, 1.0)}, **common)
    assert "fake ngspice: cannot run" in str(caught.value)
    data = json.loads((tmp_path / "fixed" / "report.json").read_text())
    assert len(data["failed"]["ann_to_imc"]) == 2
    with pytest.raises(RuntimeError, match="every calibration simulation of the scale search failed"):
        compare(tmp_path / "searched", **common)


def test_a_corrupt_stamp_or_characterization_is_set_aside(tmp_path, monkeypatch):
    """A corrupt circuit.json or characterization.json raised JSONDecodeError on every rerun."""
    from imcpnn.circuit import load_or_characterize, run_folder

    config = CircuitConfig()
    out = tmp_path / "cmp"
    out.mkdir()
    (out / "circuit.json").write_text('{"netlist_revision": 3, "conf')
    (out / "test_pnn_to_imc.jsonl").write_text("{}\n")
    messages: list[str] = []
    prepare_run_folder(out, config, messages.append)
    assert len(messages) == 1 and "circuit.json" in messages[0] and "not valid JSON" in messages[0]
    assert sorted(p.name for p in next(out.glob("superseded_*")).iterdir()) == ["circuit.json", "test_pnn_to_imc.jsonl"]
    assert json.loads((out / "circuit.json").read_text()) == circuit_stamp(config)
    # a characterization.json that is not JSON, or lacks keys, is set aside and made anew
    made = []
    monkeypatch.setattr(run_folder, "characterize", lambda folder, cfg: made.append(folder) or _synthetic())
    for text in ("{not json", json.dumps({"lambda_n": 0.4, "config": circuit_stamp(config)["config"]})):
        (out / "characterization.json").write_text(text)
        messages.clear()
        prepare_run_folder(out, config, messages.append)
        assert len(messages) == 1 and "characterization.json" in messages[0]
        assert not (out / "characterization.json").exists()
        (out / "characterization.json").write_text(text)
        messages.clear()
        assert load_or_characterize(out, config, log=messages.append) is not None
        assert "characterization.json" in messages[0] and len(made) >= 1
    assert len(list(out.glob("superseded_*/characterization.json"))) == 4
    # an explicit file is never replaced: a clear error naming it
    with pytest.raises(FileNotFoundError, match=r"no_such\.json"):
        load_or_characterize(out, config, tmp_path / "no_such.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"bad\.json"):
        load_or_characterize(out, config, bad)
    bad.write_text(json.dumps({"lambda_n": 0.4}))
    with pytest.raises(ValueError, match="lacks"):
        load_or_characterize(out, config, bad)


@pytest.mark.parametrize("scales", [(0.0, 1.0), (1.0, -0.5), (math.nan, math.nan), (math.inf, 1.0), ("a", "b"), (1.0,)])
def test_fixed_scales_must_be_positive_finite_pairs(scales):
    from imcpnn.circuit import ScaleSearchOptions

    with pytest.raises(ValueError, match="fixed_scales"):
        ScaleSearchOptions(fixed_scales={"pnn_to_imc": scales})
