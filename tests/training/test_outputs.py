"""Runs never overwrite or mix, and write files others can read (issue 15, items 3 and 7)."""

import json
import os

import pytest

from imcpnn.cli.main import main
from imcpnn.outdir import OutputFolderBusy, claim_output_folder
from imcpnn.training import TrainConfig, train

QUICK = {"dataset": "digits", "arch": "64-10", "epochs": 1, "max_train_samples": 64, "seed": 3}
QUICK_ARGV = [part for key, value in QUICK.items() for part in (f"--{key.replace('_', '-')}", str(value))]


def _config(out, **changes):
    return TrainConfig.from_flags(**{**QUICK, **changes, "out": str(out)})


def test_a_finished_run_is_never_overwritten(tmp_path):
    train(_config(tmp_path / "run"), progress=False, log=lambda s: None)
    before = (tmp_path / "run" / "best.pt").read_bytes()
    with pytest.raises(ValueError, match="already holds a run"):
        train(_config(tmp_path / "run", seed=4), progress=False, log=lambda s: None)
    assert (tmp_path / "run" / "best.pt").read_bytes() == before


def test_a_folder_in_use_is_refused(tmp_path):
    with claim_output_folder(tmp_path / "busy"), pytest.raises(OutputFolderBusy, match="in use by another"):
        train(_config(tmp_path / "busy"), progress=False, log=lambda s: None)
    assert not (tmp_path / "busy" / "last.pt").exists()


def test_out_that_is_a_file_fails_before_any_work(tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("mine")
    assert main(["train", *QUICK_ARGV, "--out", str(target), "--no-progress"]) == 2
    assert "is a file" in capsys.readouterr().err and target.read_text() == "mine"


def test_eval_json_into_a_folder_fails_before_the_evaluation(tmp_path, capsys):
    train(_config(tmp_path / "run"), progress=False, log=lambda s: None)
    assert main(["eval", str(tmp_path / "run" / "best.pt"), "--json", str(tmp_path)]) == 2
    err = capsys.readouterr()
    assert "is a folder" in err.err and "test accuracy" not in err.out


def test_metrics_are_strict_json_and_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        train(TrainConfig.from_flags(dataset="iris", epochs=1, out=str(tmp_path / "iris")), progress=False, log=print)
    finally:
        os.umask(old)
    text = (tmp_path / "iris" / "metrics.json").read_text()

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    metrics = json.loads(text, parse_constant=refuse)
    assert metrics["val_accuracy"] is None  # Iris has no validation split
    for name in ("metrics.json", "best.pt", "history.csv"):
        assert (tmp_path / "iris" / name).stat().st_mode & 0o777 == 0o644


def test_no_progress_frames_when_output_is_not_a_terminal(tmp_path, capsys):
    assert main(["train", *QUICK_ARGV, "--out", str(tmp_path / "run")]) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.err and "\r" not in captured.out
