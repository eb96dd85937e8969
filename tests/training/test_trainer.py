"""The trainer's output contract, reproducibility, resume, config files, evaluation and errors."""

import json
import math

import pytest
import torch

from imcpnn.cli.main import main
from imcpnn.training import TrainConfig, evaluate_checkpoint, load_trained_model, train
from imcpnn.training.checkpoint import load_checkpoint

QUICK = {"dataset": "digits", "arch": "64-20-10", "epochs": 2, "max_train_samples": 200, "seed": 3}


def _train(tmp_path, name, **changes):
    config = TrainConfig.from_flags(**{**QUICK, **changes, "out": str(tmp_path / name)})
    return train(config, progress=False, log=lambda s: None)


def test_output_contract(tmp_path):
    metrics = _train(tmp_path, "run")
    out = tmp_path / "run"
    saved = json.loads((out / "metrics.json").read_text())
    for key in ("test_accuracy", "train_accuracy", "epochs", "config", "wall_seconds"):
        assert key in saved
    assert 0 <= saved["test_accuracy"] <= 1 and saved["epochs"] == 2
    assert saved["config"]["e_rev_pos"] == 2.0 and saved["config"]["eval_steps"] == 30
    assert (out / "history.csv").read_text().count("\n") == 3
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
    assert not list(out.glob("*.tmp")), "no temporary files are left behind"
    assert metrics["test_accuracy"] == saved["test_accuracy"]


def test_training_learns_digits(tmp_path):
    metrics = _train(tmp_path, "learn", arch="64-50-10", epochs=6, max_train_samples=1000)
    assert metrics["test_accuracy"] > 0.7, metrics["test_accuracy"]


def test_same_seed_same_result_on_cpu(tmp_path):
    first, second = _train(tmp_path, "a"), _train(tmp_path, "b")
    assert first["test_accuracy"] == second["test_accuracy"]
    a = load_checkpoint(tmp_path / "a" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "b" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_continues_an_interrupted_run_exactly(tmp_path):
    straight = _train(tmp_path, "straight", epochs=3)
    _train(tmp_path, "resumed", epochs=1)  # "interrupted" after one epoch
    config = TrainConfig.from_flags(**{**QUICK, "epochs": 3, "out": str(tmp_path / "resumed")})
    resumed = train(config, resume=True, progress=False, log=lambda s: None)
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "resumed" / "last.pt")
    assert b["epoch"] == 3 and len(b["history"]) == 3
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert resumed["test_accuracy"] == straight["test_accuracy"]


def test_resume_refuses_other_settings(tmp_path):
    _train(tmp_path, "run", epochs=1)
    config = TrainConfig.from_flags(**{**QUICK, "lr": 0.5, "out": str(tmp_path / "run")})
    with pytest.raises(ValueError, match="other settings"):
        train(config, resume=True, progress=False, log=lambda s: None)


def test_toml_config_equals_flags(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text(
        '[train]\ndataset = "digits"\narch = "64-20-10"\nepochs = 1\nmax-train-samples = 100\n'
        f'seed = 3\ne-rev = 3.0\nout = "{tmp_path / "toml"}"\n'
    )
    assert main(["train", "--config", str(toml), "--no-progress"]) == 0
    flags = [
        "train",
        "--dataset",
        "digits",
        "--arch",
        "64-20-10",
        "--epochs",
        "1",
        "--max-train-samples",
        "100",
        "--seed",
        "3",
        "--e-rev",
        "3",
        "--out",
        str(tmp_path / "flags"),
        "--no-progress",
    ]
    assert main(flags) == 0
    a = json.loads((tmp_path / "toml" / "metrics.json").read_text())
    b = json.loads((tmp_path / "flags" / "metrics.json").read_text())
    assert a["test_accuracy"] == b["test_accuracy"]
    assert {k: v for k, v in a["config"].items() if k != "out"} == {k: v for k, v in b["config"].items() if k != "out"}


def test_eval_maps_to_other_reversal_potentials_and_searches_scales(tmp_path):
    _train(tmp_path, "ideal", e_rev=100.0, epochs=1)
    result = evaluate_checkpoint(
        tmp_path / "ideal" / "best.pt", e_rev_pos=1.0, eval_steps=8, do_scale_search=True, scales=[0.5, 1.0, 1.5]
    ).to_dict()
    assert result["evaluated_with"]["e_rev_pos"] == 1.0 and result["evaluated_with"]["e_rev_neg"] == -1.0
    assert result["trained_with"]["e_rev_pos"] == 100.0
    assert len(result["scale_grid"]) == 9
    best = max(p["accuracy"] for p in result["scale_grid"])
    assert result["scales"]["a_pos"] in (0.5, 1.0, 1.5)
    assert best == max(
        p["accuracy"]
        for p in result["scale_grid"]
        if (p["a_pos"], p["a_neg"]) == (result["scales"]["a_pos"], result["scales"]["a_neg"])
    )
    model, config = load_trained_model(tmp_path / "ideal" / "best.pt")
    assert config.neuron.params.e_rev_pos == 100.0 and model.config.params.e_rev_pos == 100.0


def test_iris_circuit_network_uses_three_of_five_outputs(tmp_path):
    metrics = train(
        TrainConfig.from_flags(dataset="iris", epochs=2, seed=0, out=str(tmp_path / "iris")),
        progress=False,
        log=lambda s: None,
    )
    assert metrics["config"]["arch"] == "5-5-5" and not math.isnan(metrics["test_accuracy"])


def test_ttfs_training_runs(tmp_path):
    metrics = _train(tmp_path, "ttfs", model="ttfs", steps=10, eval_steps=20, epochs=1)
    assert 0 <= metrics["test_accuracy"] <= 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--dataset", "mnist-9"], "mnist-9"),
        (["train", "--dataset", "digits", "--arch", "100-10"], "expects inputs of shape"),
        (["train", "--dataset", "digits", "--e-rev", "-2", "3"], "e_rev_pos must be > 0"),
        (["train", "--dataset", "digits", "--steps", "0"], "steps must be"),
        (["train", "--dataset", "digits", "--device", "cuda:7"], "CUDA is not available"),
        (["eval", "no/such/checkpoint.pt"], "does not exist"),
    ],
)
def test_cli_errors_are_one_clear_line(tmp_path, capsys, argv, message):
    if argv[0] == "train":
        argv = [*argv, "--out", str(tmp_path / "x"), "--epochs", "1", "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
