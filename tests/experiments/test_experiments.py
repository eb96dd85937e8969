"""The four experiments on a tiny setting: CSV columns, PNGs, accuracies in [0, 1], the run cache, the CLI.

One module-scoped output folder: the experiments share its trained models, as they do for users.
"""

import argparse
import csv
import math
from pathlib import Path

import pytest

from imcpnn.cli import experiment as experiment_cli
from imcpnn.experiments import (
    EXPERIMENTS,
    OUTPUT_FILES,
    PRESETS,
    ExperimentOptions,
    ExperimentPreset,
    PaperPoint,
    Workload,
    accuracy_vs_e_rev,
    accuracy_vs_eval_steps,
    accuracy_vs_steps,
    planned_runs,
    spike_time_histograms,
)

TINY = ExperimentPreset(
    name="tiny",
    description="digits 64-16-10, 200 training samples, 1 epoch, 2 values per axis",
    workloads=(
        Workload(
            name="tiny", dataset="digits", arch="64-16-10", steps=2, steps_grid=(1, 2), e_rev_grid=(2.0, 100.0),
            eval_steps_grid=(2, 8), eval_exact=True, scales=(0.5, 1.0, 1.5), histogram_bins=10, seeds=1, epochs=1,
            train={"max_train_samples": 200, "eval_steps": 4}, scale_search_samples=50,
            paper=(PaperPoint(30.0, 0.9, "paper (made up for the test)"),),
        ),
    ),
)  # fmt: skip


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def assert_fractions(rows: list[dict[str, str]], columns: list[str]) -> None:
    for row in rows:
        for column in columns:
            value = float(row[column])
            assert 0.0 <= value <= 1.0, (column, row)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("experiments")
    logs: list[str] = []
    rows = {name: function(TINY, out, log=logs.append) for name, function in EXPERIMENTS.items()}
    return out, rows, logs


def test_every_experiment_writes_its_csv_and_png(results):
    out, rows, _ = results
    for name, (csv_name, png_name) in OUTPUT_FILES.items():
        assert (out / csv_name).is_file() and (out / png_name).stat().st_size > 1000, name
        assert (out / png_name).read_bytes()[:4] == b"\x89PNG"
        assert len(read_csv(out / csv_name)) == len(rows[name]) > 0
    assert not list(out.glob(".*.tmp")), "no temporary files are left behind"


def test_steps_csv(results):
    out, rows, _ = results
    table = read_csv(out / "steps.csv")
    assert {"offset", "train_steps", "eval_steps", "n_seeds", "test_accuracy_mean", "test_accuracy_std",
            "test_accuracy_at_train_steps_mean"} <= set(table[0])  # fmt: skip
    assert {(r["offset"], r["train_steps"]) for r in table} == {("random", "1"), ("random", "2"), ("fixed", "1"),
                                                                 ("fixed", "2")}  # fmt: skip
    assert_fractions(table, ["test_accuracy_mean", "test_accuracy_min", "test_accuracy_max",
                             "test_accuracy_at_train_steps_mean"])  # fmt: skip
    assert len(read_csv(out / "steps_runs.csv")) == 4 and rows["steps"][0]["eval_steps"] == 4


def test_erev_csv_has_three_flows_and_reuses_the_ideal_network(results):
    out, _, _ = results
    table = read_csv(out / "erev.csv")
    assert {(float(r["e_rev"]), r["flow"]) for r in table} == {
        (e, flow) for e in (2.0, 100.0) for flow in ("physical", "ann", "scaled_ann")
    }
    assert_fractions(table, ["test_accuracy_mean", "test_accuracy_min", "test_accuracy_max"])
    scaled = [r for r in table if r["flow"] == "scaled_ann"]
    assert all(float(r["a_pos_mean"]) in (0.5, 1.0, 1.5) and float(r["a_neg_mean"]) in (0.5, 1.0, 1.5) for r in scaled)
    runs = read_csv(out / "erev_runs.csv")
    ann_dirs = {r["run_dir"] for r in runs if r["flow"] in ("ann", "scaled_ann")}
    assert len(ann_dirs) == 1, "one ideal network per seed, reused at every |E±|"
    at_ideal = {r["flow"]: float(r["test_accuracy"]) for r in runs if float(r["e_rev"]) == 100.0}
    assert at_ideal["physical"] == at_ideal["ann"], "at the ideal |E±| the physical network is the ANN"


def test_erev_states_its_evaluation_and_searches_on_a_subset(results):
    out, _, _ = results
    runs = read_csv(out / "erev_runs.csv")
    assert {(r["eval_solver"], r["eval_spike_noise"], r["eval_steps"]) for r in runs} == {("dstd", "0.01", "4")}
    assert {r["searched_on"] for r in runs if r["flow"] == "scaled_ann"} == {"val[:50]"}
    assert all(float(r["seconds_per_epoch"]) > 0 for r in runs)


def test_erev_rerun_reads_its_evaluations_back(results, monkeypatch):
    out, rows, _ = results
    (ideal_dir,) = {Path(r["run_dir"]) for r in read_csv(out / "erev_runs.csv") if r["flow"] == "ann"}
    assert (ideal_dir / "evaluations.json").is_file()

    def no_evaluation(*args, **kwargs):
        raise AssertionError("a rerun evaluated again instead of reading evaluations.json")

    monkeypatch.setattr("imcpnn.experiments.runs.evaluate_accuracy", no_evaluation)
    monkeypatch.setattr("imcpnn.experiments.runs.scale_search", no_evaluation)
    assert accuracy_vs_e_rev(TINY, out, log=lambda _: None) == rows["erev"]


def test_unreadable_evaluations_are_measured_again(results, tmp_path):
    from imcpnn.experiments.runs import Evaluator
    from imcpnn.training.cache import finished_run

    out, _, _ = results
    (ideal_dir,) = {Path(r["run_dir"]) for r in read_csv(out / "erev_runs.csv") if r["flow"] == "ann"}
    copy = tmp_path / "run"
    copy.mkdir()
    for name in ("best.pt", "metrics.json"):
        (copy / name).write_bytes((ideal_dir / name).read_bytes())
    (copy / "evaluations.json").write_text("{not json")
    run = finished_run(copy)
    first = Evaluator().accuracy(run, eval_steps=2)
    assert 0.0 <= first <= 1.0 and Evaluator().accuracy(run, eval_steps=2) == first
    assert "eval_steps" in (copy / "evaluations.json").read_text()


def test_run_folders_keep_their_names_when_settings_are_added(tmp_path):
    """Settings added to the training record later (precision, silent_surrogate) stay out of the folder
    hash at their old value: the folders below are those the code before them computed."""
    names = [Path(c.out).name for c in planned_runs("erev", "quick", tmp_path)[:2]]
    assert names == ["e100_-100-m4-random-s1-ep8-371daaff", "e100_-100-m4-random-s2-ep8-26bb9515"]


def test_histogram_csv(results):
    out, _, _ = results
    table = read_csv(out / "histograms.csv")
    assert {"layer", "layer_name", "bin_start", "bin_end", "count", "fraction", "silent_fraction"} <= set(table[0])
    assert_fractions(table, ["fraction", "silent_fraction", "test_accuracy"])
    for layer in ("1", "2"):
        bins = [r for r in table if r["layer"] == layer]
        assert len(bins) == 10 and float(bins[0]["bin_start"]) == 0.0 and float(bins[-1]["bin_end"]) == 1.0
        # RC-Spike neurons always fire: the bins hold every output
        assert math.isclose(sum(float(r["fraction"]) for r in bins), 1.0, abs_tol=1e-4)
        assert sum(int(r["count"]) for r in bins) == int(bins[0]["outputs"])


def test_eval_steps_csv(results):
    out, _, _ = results
    table = read_csv(out / "eval_steps.csv")
    assert {"train_offset", "train_steps", "solver", "eval_steps", "test_accuracy_mean"} <= set(table[0])
    assert {(r["train_offset"], r["solver"], r["eval_steps"]) for r in table} == {
        (offset, solver, steps) for offset in ("random", "fixed") for solver, steps in
        (("dstd", "2"), ("dstd", "8"), ("exact", ""))
    }  # fmt: skip
    assert_fractions(table, ["test_accuracy_mean", "test_accuracy_min", "test_accuracy_max"])


def test_models_are_shared_between_experiments(results):
    out, _, logs = results
    trainings = [line for line in logs if line.strip().startswith("training")]
    # steps: 2 M x 2 offsets; erev adds |E±| = 100 (|E±| = 2, M = 2, random is a steps run); the others none
    assert len(trainings) == 5, trainings
    assert len(list((out / "models" / "tiny").iterdir())) == 5


def test_rerun_reuses_and_resumes(results):
    out, rows, _ = results
    logs: list[str] = []
    assert accuracy_vs_eval_steps(TINY, out, log=logs.append) == rows["eval-steps"]
    assert not [line for line in logs if "training" in line or "resuming" in line]
    # an interrupted run (last.pt, no metrics.json) is resumed, not retrained
    (run_dir,) = [p for p in (out / "models" / "tiny").iterdir() if p.name.startswith("e2_-2-m2-random")]
    (run_dir / "metrics.json").unlink()
    logs.clear()
    assert spike_time_histograms(TINY, out, log=logs.append) == rows["histograms"]
    assert [line for line in logs if "resuming" in line] and (run_dir / "metrics.json").is_file()


def test_seeds_and_epochs_override(tmp_path):
    configs = planned_runs("steps", TINY, tmp_path, ExperimentOptions(seeds=2, epochs=3))
    assert len(configs) == 8 and {c.seed for c in configs} == {1, 2} and {c.optimiser.epochs for c in configs} == {3}
    assert len({c.out for c in configs}) == 8
    assert len(planned_runs("erev", TINY, tmp_path)) == 2


@pytest.mark.parametrize("preset", [name for name in PRESETS if name != "quick"])
def test_paper_presets_resolve_and_build(preset, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    experiment_cli.register(parser.add_subparsers())
    args = parser.parse_args(["experiment", "all", "--preset", preset, "--out", str(tmp_path), "--dry-run"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "network" in printed and "weights" in printed and "erev:" in printed
    assert not list(tmp_path.iterdir()), "a dry run trains and writes nothing"


def test_cli_runs_an_experiment(results, monkeypatch, capsys):
    out, _, _ = results
    monkeypatch.setitem(PRESETS, "tiny", TINY)
    parser = argparse.ArgumentParser()
    experiment_cli.register(parser.add_subparsers())
    args = parser.parse_args(["experiment", "steps", "--preset", "tiny", "--out", str(out)])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "steps.csv" in printed and "random" in printed and "fixed" in printed


def test_functions_are_exported():
    assert EXPERIMENTS["steps"] is accuracy_vs_steps and EXPERIMENTS["erev"] is accuracy_vs_e_rev
