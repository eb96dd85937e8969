"""Reported accuracy says what it is (issue 11, deliverable 6): the solver and the spike noise it was
measured with, in ``imcpnn eval`` (``--solver``, ``--spike-noise``), its JSON and ``imcpnn train``'s last line."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import imcpnn.kernels
from imcpnn.cli.main import main
from imcpnn.cli.train import evaluated_with
from imcpnn.training import TrainConfig, evaluate_checkpoint, load_trained_model, train
from imcpnn.training.evaluate import describe_evaluation

TINY = {"dataset": "digits", "arch": "64-20-10", "epochs": 4, "max_train_samples": 1000, "lr": 3e-3, "seed": 1}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny digits model (trained with the default spike noise σ 0.01, evaluation M 30)."""
    out = tmp_path_factory.mktemp("eval-settings") / "run"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(TrainConfig.from_flags(**TINY, out=str(out)), progress=False, log=lambda s: None)
    finally:
        torch.set_num_threads(threads)
    return out / "best.pt"


@pytest.fixture
def exact_calls(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Counts the calls of the exact solver's event sort (only the exact method calls it)."""
    calls = SimpleNamespace(count=0)
    original = imcpnn.kernels.sorted_intervals

    def counted(*args, **kwargs):
        calls.count += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(imcpnn.kernels, "sorted_intervals", counted)
    return calls


def _eval_json(capsys, tmp_path: Path, checkpoint: Path, *flags: str) -> tuple[dict, str]:
    report = tmp_path / f"eval{len(list(tmp_path.glob('eval*.json')))}.json"
    assert main(["eval", str(checkpoint), *flags, "--json", str(report)]) == 0
    return json.loads(report.read_text()), capsys.readouterr().out


def test_default_is_the_training_noise_and_dstd_and_says_so(capsys, tmp_path, checkpoint):
    result, out = _eval_json(capsys, tmp_path, checkpoint)
    assert result["evaluated_with"]["solver"] == "dstd"
    assert result["evaluated_with"]["eval_steps"] == 30 and result["evaluated_with"]["spike_noise"] == 0.01
    assert f"test accuracy {result['test_accuracy']:.4f} (DSTD M 30, spike noise σ 0.01, E+ 2, E- -2)" in out


def test_exact_solver_is_close_to_dstd_at_large_m_and_reported_as_exact(capsys, tmp_path, checkpoint, exact_calls):
    exact, out = _eval_json(capsys, tmp_path, checkpoint, "--solver", "exact", "--spike-noise", "0")
    assert exact_calls.count > 0, "the exact solver ran"
    assert exact["evaluated_with"] == {
        "e_rev_pos": 2.0, "e_rev_neg": -2.0, "solver": "exact", "eval_steps": None, "spike_noise": 0.0,
    }  # fmt: skip
    assert "(exact solver, spike noise σ 0, E+ 2, E- -2)" in out
    calls = exact_calls.count
    dstd, out = _eval_json(
        capsys, tmp_path, checkpoint, "--solver", "dstd", "--eval-steps", "400", "--spike-noise", "0"
    )
    assert exact_calls.count == calls, "DSTD does not call the exact solver"
    assert dstd["evaluated_with"]["solver"] == "dstd" and dstd["evaluated_with"]["eval_steps"] == 400
    assert "(DSTD M 400, spike noise σ 0, E+ 2, E- -2)" in out
    assert 0.5 < exact["test_accuracy"] <= 1.0  # a trained model, so that the comparison means something
    assert abs(exact["test_accuracy"] - dstd["test_accuracy"]) <= 3 / 359  # at most 3 of the 359 test digits


def test_noise_free_evaluation_is_reported_as_zero_and_deterministic(checkpoint):
    results = [evaluate_checkpoint(checkpoint, spike_noise=0.0, seed=seed) for seed in (1, 2, 3)]
    assert all(r.to_dict()["evaluated_with"]["spike_noise"] == 0.0 for r in results)
    assert len({r.test_accuracy for r in results}) == 1
    # The outputs themselves, not only the accuracy: identical under any RNG state without noise, not with it.
    model, _ = load_trained_model(checkpoint)
    x = torch.rand(64, 64)

    def outputs(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)
        with torch.no_grad():
            return model(x)

    assert not torch.equal(outputs(1), outputs(2))  # σ 0.01, the training noise
    model.set_config(spike_noise=0.0)
    assert torch.equal(outputs(1), outputs(2))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--solver", "rk4"], "invalid choice: 'rk4'"),
        (["--spike-noise", "-1"], "--spike-noise: must be a finite number >= 0"),
        (["--spike-noise", "nan"], "--spike-noise: must be a finite number >= 0"),
        (["--spike-noise", "loud"], "--spike-noise: must be a finite number >= 0"),
    ],
)
def test_bad_values_are_an_argparse_error(capsys, checkpoint, flags, message):
    with pytest.raises(SystemExit) as exited:
        main(["eval", str(checkpoint), *flags])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_eval_steps_with_the_exact_solver_is_refused(capsys, checkpoint):
    assert main(["eval", str(checkpoint), "--solver", "exact", "--eval-steps", "8"]) == 2
    err = capsys.readouterr()
    assert "exact solver" in err.err and "--eval-steps" in err.err and "Traceback" not in err.err
    assert "test accuracy" not in err.out


@pytest.mark.parametrize(
    ("changes", "match"),
    [({"solver": "rk4"}, "solver must be one of"), ({"spike_noise": -1.0}, "spike_noise must be"),
     ({"eval_steps": 0}, "steps must be")],
)  # fmt: skip
def test_python_api_names_the_bad_setting(tmp_path, changes, match):
    with pytest.raises(ValueError, match=match):  # checked before the checkpoint is read
        evaluate_checkpoint(tmp_path / "never-read.pt", **changes)


def test_train_prints_the_evaluation_settings(tmp_path, capsys):
    argv = ["train", "--dataset", "digits", "--arch", "64-10", "--epochs", "1", "--max-train-samples", "64"]
    assert (
        main([*argv, "--eval-steps", "8", "--spike-noise", "0", "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    )
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"test accuracy {metrics['test_accuracy']:.4f} (DSTD M 8, spike noise σ 0)  train accuracy")
    if "evaluated_with" in metrics:  # the trainer's record, when it writes one, says the same
        assert metrics["evaluated_with"]["solver"] == "dstd" and metrics["evaluated_with"]["spike_noise"] == 0.0


def test_train_line_prefers_the_trainers_record_and_falls_back_to_the_config():
    config = TrainConfig.from_flags(dataset="digits", eval_steps=12, spike_noise=0.02)
    assert describe_evaluation(evaluated_with({}, config)) == "DSTD M 12, spike noise σ 0.02"
    recorded = {"evaluated_with": {"solver": "exact", "eval_steps": None, "spike_noise": 0.0}}
    assert describe_evaluation(evaluated_with(recorded, config)) == "exact solver, spike noise σ 0"
    exact_run = TrainConfig.from_flags(dataset="digits", solver="exact", spike_noise=0.0)
    assert describe_evaluation(evaluated_with({}, exact_run)) == "exact solver, spike noise σ 0"
